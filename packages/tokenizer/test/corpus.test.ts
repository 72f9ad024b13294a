// Streaming corpus reader: line splitting (LF, CRLF, no final newline, UTF-8 across chunk edges), JSONL errors, globs, slices, bounded buffering.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandInputs, globToRegExp, readCorpus } from '@stellar/tokenizer';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-corpus-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Buffer): string {
  const f = path.join(dir, name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, content);
  return f;
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const t of it) out.push(t);
  return out;
}

test('plain text: one text per line with its newline; CRLF, blank lines, BOM, no final newline', async () => {
  const f = write('a.txt', '\ufeffline one\r\nline two\n\n  indented\r\nlast without newline');
  const texts = await collect(readCorpus(f));
  expect(texts).toEqual(['line one\n', 'line two\n', '\n', '  indented\n', 'last without newline']);
});

test('multi-byte UTF-8 split across chunk boundaries decodes intact, for every chunk size', async () => {
  const lines = ['héllo wörld 灯塔', '🌊⚓ emoji 😀😀', 'ascii', 'Ünïcödé\u{10348}'];
  const f = write('utf8.txt', lines.join('\n') + '\n');
  const expected = lines.map((l) => l + '\n');
  for (let chunkBytes = 1; chunkBytes <= 9; chunkBytes++) {
    expect(await collect(readCorpus(f, { chunkBytes }))).toEqual(expected);
  }
});

test('JSONL: text field per line, blank lines ignored, bad lines fail naming file:line', async () => {
  const f = write('d.jsonl', ['{"text":"alpha"}', '', '{"text":"beta\\nwith newline","id":2}', '{"body":"x"}', '{not json', '[1]', '{"text":7}', '{"text":"omega"}'].join('\n'));
  await expect(collect(readCorpus(f))).rejects.toThrow(`${f}:4: no "text" field`);

  const reader = readCorpus(f, { onBadLine: 'skip' });
  expect(await collect(reader)).toEqual(['alpha', 'beta\nwith newline', 'omega']);
  expect(reader.stats.badLines).toBe(4);
  expect(reader.stats.badLineMessages).toEqual([
    `${f}:4: no "text" field`,
    expect.stringMatching(new RegExp(`^${f.replace(/[.\\]/g, '\\$&')}:5: invalid JSON`)),
    `${f}:6: expected a JSON object, got an array`,
    `${f}:7: "text" is number, not a string`,
  ]);
  expect(reader.stats.texts).toBe(3);

  // Another field, and format forced for a file without a .jsonl extension.
  const g = write('other.data', '{"body":"x"}\n{"body":"y"}\n');
  expect(await collect(readCorpus(g, { format: 'jsonl', textField: 'body' }))).toEqual(['x', 'y']);
});

test('many files, directories and globs, in sorted order without duplicates; no match is an error', async () => {
  write('g/b.txt', 'B\n');
  write('g/a.txt', 'A\n');
  write('g/sub/c.txt', 'C\n');
  write('g/sub/d.jsonl', '{"text":"D"}\n');
  write('g/skip.md', 'M\n');
  const g = path.join(dir, 'g');
  expect(await collect(readCorpus(path.join(g, '*.txt')))).toEqual(['A\n', 'B\n']);
  expect(await collect(readCorpus(path.join(g, '**/*.txt')))).toEqual(['A\n', 'B\n', 'C\n']);
  expect(await collect(readCorpus([path.join(g, 'sub'), path.join(g, '**/*.jsonl')]))).toEqual(['C\n', 'D']);
  expect(await collect(readCorpus(g))).toEqual(['A\n', 'B\n', 'M\n', 'C\n', 'D']);
  expect(expandInputs([path.join(g, '[ab].txt'), path.join(g, 'a.txt')]).map((f) => path.basename(f))).toEqual(['a.txt', 'b.txt']);
  expect(() => readCorpus(path.join(g, '*.csv'))).toThrow('no files match');
  expect(() => readCorpus(path.join(dir, 'missing.txt'))).toThrow('no files match');
});

test('glob syntax: * and ? stay within a segment, ** spans directories', () => {
  expect(globToRegExp('*.txt').test('a.txt')).toBe(true);
  expect(globToRegExp('*.txt').test('d/a.txt')).toBe(false);
  expect(globToRegExp('**/*.txt').test('a.txt')).toBe(true);
  expect(globToRegExp('**/*.txt').test('x/y/a.txt')).toBe(true);
  expect(globToRegExp('a?.txt').test('ab.txt')).toBe(true);
  expect(globToRegExp('a?.txt').test('a/.txt')).toBe(false);
  expect(globToRegExp('a.txt').test('abtxt')).toBe(false);
});

test('slices by byte position partition the texts across files: train + held out = all, no overlap', async () => {
  const files = [0, 1, 2].map((i) => write(`s/${i}.txt`, Array.from({ length: 40 }, (_, j) => `file ${i} line ${j} ${'x'.repeat(j % 7)}`).join('\n') + '\n'));
  const all = await collect(readCorpus(files));
  for (const cut of [0, 0.1, 0.33, 0.5, 0.95, 1]) {
    const head = await collect(readCorpus(files, { slice: [0, cut], chunkBytes: 64 }));
    const tail = await collect(readCorpus(files, { slice: [cut, 1], chunkBytes: 64 }));
    expect([...head, ...tail]).toEqual(all);
    const headBytes = Buffer.byteLength(head.join(''));
    const total = Buffer.byteLength(all.join(''));
    // Each text goes to the side where its first byte lies.
    expect(headBytes).toBeGreaterThanOrEqual(Math.floor(cut * total) - 40);
    expect(headBytes).toBeLessThanOrEqual(Math.floor(cut * total) + 40);
  }
  expect(() => readCorpus(files, { slice: [0.5, 0.2] })).toThrow('slice');
});

test('a line longer than maxLineBytes is a bad line and is never buffered whole', async () => {
  const f = write('long.txt', `short\n${'y'.repeat(10000)}\nafter\n${'z'.repeat(5000)}`);
  await expect(collect(readCorpus(f, { maxLineBytes: 1000 }))).rejects.toThrow(`${f}:2: line is 10000 bytes`);
  const reader = readCorpus(f, { maxLineBytes: 1000, chunkBytes: 256, onBadLine: 'skip' });
  expect(await collect(reader)).toEqual(['short\n', 'after\n']);
  expect(reader.stats.badLines).toBe(2);
  expect(reader.stats.badLineMessages[1]).toBe(`${f}:4: line is 5000 bytes, over the maxLineBytes limit`);
  expect(reader.stats.maxBufferedBytes).toBeLessThanOrEqual(1000 + 256);
});

test('streaming a 48 MB file holds one chunk plus one line, and the heap does not grow with the file', async () => {
  const line = 'the quick brown fox jumps over the lazy dog 0123456789 ' + 'é'.repeat(10) + '\n';
  const block = Buffer.from(line.repeat(1 << 12));
  const f = path.join(dir, 'big.txt');
  const fd = fs.openSync(f, 'w');
  const size = 48 << 20;
  for (let n = 0; n < size; n += block.length) fs.writeSync(fd, block);
  fs.closeSync(fd);
  const fileBytes = fs.statSync(f).size;

  const chunkBytes = 256 << 10;
  const reader = readCorpus(f, { chunkBytes });
  const base = process.memoryUsage().heapUsed;
  let peak = 0;
  let n = 0;
  let chars = 0;
  for await (const batch of reader.batches()) {
    n += batch.length;
    for (const t of batch) chars += t.length;
    peak = Math.max(peak, process.memoryUsage().heapUsed - base);
  }
  fs.rmSync(f);
  expect(n).toBe(fileBytes / Buffer.byteLength(line));
  expect(chars).toBe(n * line.length);
  expect(reader.stats.bytesRead).toBe(fileBytes);
  expect(reader.stats.maxBufferedBytes).toBeLessThanOrEqual(chunkBytes + Buffer.byteLength(line));
  // Holding the file's texts would take over 40 MB of heap (one byte per char, 'é' included); garbage from
  // finished chunks (collected with the young generation, a few MB to 16 MB) stays below half the file.
  expect(peak).toBeLessThan(fileBytes / 2);
});
