// Pretokenization: documents + EOS in input order, identical bytes for 0, 1 and 2 workers, counts and dropped records.
import fs from 'node:fs';
import path from 'node:path';
import { openShards, pretokenize, tokenizerHash } from '@stellar/data';
import { CORPUS, tinyTokenizer, tmpDir } from './util/fixtures';

const dir = tmpDir('pretok');
const input = path.join(dir, 'in.jsonl');
// 300 documents, some multi-line and multi-byte, plus bad lines in between.
const texts = Array.from({ length: 300 }, (_, i) => `${CORPUS[i % CORPUS.length]} #${i}${i % 7 === 0 ? '\nsecond line ⚓' : ''}`);
const lines = texts.map((t) => JSON.stringify({ text: t }));
lines.splice(10, 0, '{"text": null}');
lines.splice(200, 0, 'not json');
fs.writeFileSync(input, lines.join('\n') + '\n');

const shardBytes = (d: string) => fs.readdirSync(d).filter((f) => f.endsWith('.bin')).sort().map((f) => fs.readFileSync(path.join(d, f)));

test('each document is encoded and followed by EOS, in input order; counts and drops are reported', async () => {
  const tok = await tinyTokenizer();
  const out = path.join(dir, 'w2');
  const s = await pretokenize(input, tok, out, { numWorkers: 2, chunkChars: 500, shardTokens: 2000, onBadRecord: 'skip', progress: false });
  expect(s.documents).toBe(300);
  expect(s.droppedRecords).toBe(2);
  expect(s.badRecords.messages[0]).toBe(`${input}:11: field "text" is null, not a string`);
  expect(s.bytes).toBe(fs.statSync(input).size);
  const eos = tok.tokenToId('<|endoftext|>')!;
  const set = openShards(out, { validateTokens: true });
  expect(set.shards.length).toBeGreaterThan(1);
  expect(set.totalDocs).toBe(300);
  let tokens = 0;
  for (let i = 0; i < 300; i++) {
    const ids = Array.from(set.readDoc(i));
    tokens += ids.length;
    expect(ids[ids.length - 1]).toBe(eos);
    expect(ids).toEqual([...tok.encode(texts[i], { addSpecialTokens: false }), eos]);
  }
  expect(s.tokens).toBe(tokens);
  expect(set.manifest.meta.tokenizerSha256).toBe(tokenizerHash(tok));
  expect(set.manifest.meta.eosTokenId).toBe(eos);
  set.close();
});

test('output bytes do not depend on the number of workers', async () => {
  const tok = await tinyTokenizer();
  // 0 workers, 1 and 2 workers with the calling thread helping, 2 workers alone
  const runs = [{ numWorkers: 0 }, { numWorkers: 1 }, { numWorkers: 2 }, { numWorkers: 2, mainThreadEncodes: false }];
  const outs = runs.map((_, i) => path.join(dir, `n${i}`));
  const sums = [];
  for (const [i, out] of outs.entries()) {
    sums.push(await pretokenize(input, tok, out, { ...runs[i], chunkChars: 300, shardTokens: 1500, onBadRecord: 'skip', progress: false }));
  }
  const [a, b, c, d] = outs.map(shardBytes);
  expect(a.length).toBeGreaterThan(1);
  expect(b).toEqual(a);
  expect(c).toEqual(a);
  expect(d).toEqual(a);
  expect(sums[0].mainThreadChunks).toBe(sums[0].chunks);
  // while the worker starts, its queue fills and the calling thread encodes chunks itself
  expect(sums[1].mainThreadChunks).toBeGreaterThan(0);
  expect(sums[1].mainThreadChunks).toBeLessThanOrEqual(sums[1].chunks);
  expect(sums[3].mainThreadChunks).toBe(0);
  expect(fs.readFileSync(path.join(outs[2], 'manifest.json'), 'utf8')).toBe(fs.readFileSync(path.join(outs[1], 'manifest.json'), 'utf8'));
});

test('the fail policy stops with file:line; an iterable of strings works too', async () => {
  const tok = await tinyTokenizer();
  await expect(pretokenize(input, tok, path.join(dir, 'fail'), { numWorkers: 1, progress: false })).rejects.toThrow(`${input}:11: field "text" is null, not a string`);
  const s = await pretokenize({ texts: ['a b', 'c'] }, tok, path.join(dir, 'iter'), { numWorkers: 1, progress: false });
  expect(s.documents).toBe(2);
  expect(s.bytes).toBe(4);
});

test('the progress bar reports MB/s, tokens and ETA', async () => {
  const { ProgressBar } = await import('@stellar/data');
  const written: string[] = [];
  const bar = new ProgressBar(1e6, { write: (x: string) => written.push(x) }, 0);
  bar.update({ bytes: 250000, tokens: 1234, docs: 5 });
  expect(written[0]).toMatch(/\[######\.+\]  25\.0%  0\.3 MB  [\d.]+ MB\/s  5 docs  1,234 tokens  ETA \d+:\d\d/);
});
