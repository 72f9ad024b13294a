// Token shards: round trip, dtype by vocab size, shard cuts at document boundaries, and refusal of corrupt files.
import fs from 'node:fs';
import path from 'node:path';
import { CorruptShardError, HEADER_BYTES, openShards, writeShards } from '@stellar/data';
import { randomDocs, tmpDir } from './util/fixtures';

async function* gen(docs: number[][]) {
  for (const d of docs) yield d;
}

describe('writeShards / openShards', () => {
  test('round trip with uint16 ids, cut at document boundaries', async () => {
    const dir = tmpDir('rt');
    const docs = randomDocs(50, 1000, 1);
    const m = await writeShards(gen(docs), dir, { shardTokens: 100, vocabSize: 1000, meta: { note: 'x' } });
    expect(m.dtype).toBe('uint16');
    expect(m.totalDocs).toBe(50);
    expect(m.totalTokens).toBe(docs.reduce((s, d) => s + d.length, 0));
    expect(m.shards.length).toBeGreaterThan(5);
    for (const s of m.shards) expect(s.tokens).toBeLessThanOrEqual(100);
    expect(m.meta).toEqual({ note: 'x' });
    // Nothing temporary is left behind.
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp')).length).toBe(0);
    for (const s of m.shards) expect(fs.statSync(path.join(dir, s.file)).size).toBe(s.bytes);
    const set = openShards(dir, { validateTokens: true });
    expect(docs.map((_, i) => Array.from(set.readDoc(i)))).toEqual(docs);
    set.close();
  });

  test('uint32 when the vocabulary exceeds 65536; a document longer than a shard gets its own', async () => {
    const dir = tmpDir('u32');
    const docs = [[70000, 1, 2], Array.from({ length: 30 }, (_, i) => 100000 + i), [5]];
    const m = await writeShards(docs, dir, { shardTokens: 10, vocabSize: 200000 });
    expect(m.dtype).toBe('uint32');
    expect(m.shards.map((s) => s.tokens)).toEqual([3, 30, 1]);
    const set = openShards(dir);
    expect(docs.map((_, i) => Array.from(set.readDoc(i)))).toEqual(docs);
    set.close();
  });

  test('ids outside the vocabulary are refused when writing', async () => {
    await expect(writeShards([[1, 2, 300]], tmpDir('bad'), { shardTokens: 10, vocabSize: 300 })).rejects.toThrow(/document 0 has token id 300 at position 2/);
  });

  test('an existing set is kept unless overwrite is given', async () => {
    const dir = tmpDir('ow');
    await writeShards([[1, 2]], dir, { shardTokens: 10, vocabSize: 10 });
    await expect(writeShards([[3]], dir, { shardTokens: 10, vocabSize: 10 })).rejects.toThrow(/already holds a shard set/);
    await writeShards([[3]], dir, { shardTokens: 10, vocabSize: 10, overwrite: true });
    const set = openShards(dir);
    expect(Array.from(set.readDoc(0))).toEqual([3]);
    set.close();
  });
});

describe('corrupt shards are refused with the file and the problem', () => {
  let n = 0;
  async function corrupt(edit: (file: string, buf: Buffer) => Buffer | null): Promise<string> {
    const dir = tmpDir(`corrupt${n++}`);
    await writeShards(randomDocs(6, 500, 3, 2, 5), dir, { shardTokens: 1000, vocabSize: 500 });
    const file = path.join(dir, 'shard-00000.bin');
    const out = edit(file, fs.readFileSync(file));
    if (out) fs.writeFileSync(file, out);
    return dir;
  }
  const refused = (dir: string) => {
    try {
      openShards(dir, { validateTokens: true }).close();
    } catch (e) {
      return e as Error;
    }
    throw new Error('corrupt shard was accepted');
  };

  test('bad magic', async () => {
    const e = refused(await corrupt((_, b) => (b.write('XXXX', 0), b)));
    expect(e).toBeInstanceOf(CorruptShardError);
    expect(e.message).toMatch(/shard-00000\.bin: bad magic/);
  });
  test('unknown version', async () => {
    expect(refused(await corrupt((_, b) => (b.writeUInt32LE(9, 8), b))).message).toMatch(/shard-00000\.bin: unsupported version 9/);
  });
  test('header checksum', async () => {
    expect(refused(await corrupt((_, b) => (b.writeUInt32LE(b.readUInt32LE(32) + 1, 32), b))).message).toMatch(/header checksum mismatch/);
  });
  test('truncated file', async () => {
    expect(refused(await corrupt((_, b) => b.subarray(0, b.length - 2))).message).toMatch(/shard-00000\.bin: header says \d+ tokens in 6 documents \(\d+ bytes\) but the file is \d+ bytes/);
  });
  test('shorter than a header', async () => {
    expect(refused(await corrupt((_, b) => b.subarray(0, 10))).message).toMatch(/shorter than the 64-byte header/);
  });
  test('document offsets not increasing', async () => {
    expect(refused(await corrupt((_, b) => (b.writeUInt32LE(0, HEADER_BYTES + 4 * 3), b))).message).toMatch(/document index is not increasing at document 2/);
  });
  test('token id not below the vocabulary (checked on demand)', async () => {
    const dir = await corrupt((_, b) => (b.writeUInt16LE(600, b.length - 2), b));
    const set = openShards(dir); // header and sizes are fine
    expect(() => set.validateTokens()).toThrow(/shard-00000\.bin: token \d+ is id 600, not below the vocabulary size 500/);
    set.close();
  });
  test('missing shard file and manifest disagreement', async () => {
    const dir = await corrupt((f) => (fs.rmSync(f), null));
    expect(refused(dir).message).toMatch(/shard-00000\.bin: listed in manifest.json but missing/);
    const dir2 = await corrupt(() => null);
    const mf = path.join(dir2, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(mf, 'utf8'));
    m.shards[0].tokens += 1;
    fs.writeFileSync(mf, JSON.stringify(m));
    expect(refused(dir2).message).toMatch(/shard-00000\.bin: holds \d+ tokens \/ 6 documents, the manifest says/);
    expect(() => openShards(tmpDir('empty'))).toThrow(/manifest.json not found/);
  });
});
