// Training from files: the streamed corpus gives HF's merges (HF also trains on lines with their newline), from text or JSONL, with progress events.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCorpus, trainBpe, trainBpeFromFiles, type TrainProgress } from '@stellar/tokenizer';
import { corpusLines, FIXTURES, hfMerges, readGolden } from './util/fixtures';

const golden = readGolden();
const opts = { vocabSize: golden.vocab_size, minFrequency: golden.min_frequency, specialTokens: golden.special_tokens };
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-train-files-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the committed corpus file, streamed in tiny chunks over 2 threads, gives exactly HF tokenizers merges', async () => {
  const tok = await trainBpeFromFiles(path.join(FIXTURES, 'corpus.txt'), { ...opts, chunkBytes: 97, chunkChars: 400, numThreads: 2 });
  expect(tok.merges).toEqual(hfMerges('hf-gpt2'));
  for (const c of golden.gpt2) expect(tok.encode(c.text)).toEqual(c.ids);
});

test('the same corpus as JSONL split over several files (CRLF endings) trains identically', async () => {
  const lines = corpusLines();
  const files: string[] = [];
  for (let i = 0; i < 3; i++) {
    const part = lines.filter((_, j) => j % 3 === i);
    files.push(path.join(dir, `part${i}.jsonl`));
    fs.writeFileSync(files[i], part.map((text) => JSON.stringify({ text })).join('\r\n'));
  }
  const tok = await trainBpeFromFiles(path.join(dir, 'part*.jsonl'), opts);
  expect(tok.merges).toEqual(hfMerges('hf-gpt2'));
});

test('progress: counting reports bytes up to the total, merging counts up to the merges made', async () => {
  const events: TrainProgress[] = [];
  const reader = readCorpus(path.join(FIXTURES, 'corpus.txt'), { chunkBytes: 256 });
  const tok = await trainBpe(reader, { ...opts, chunkChars: 300, numThreads: 1, onProgress: (p) => events.push({ ...p }) });
  const count = events.filter((e) => e.phase === 'count');
  const merge = events.filter((e) => e.phase === 'merge');
  expect(count.length).toBeGreaterThan(3);
  expect(events.indexOf(count[count.length - 1])).toBeLessThan(events.indexOf(merge[0]));
  const last = count[count.length - 1] as Extract<TrainProgress, { phase: 'count' }>;
  expect(last.done).toBe(true);
  expect(last.bytesRead).toBe(fs.statSync(path.join(FIXTURES, 'corpus.txt')).size);
  expect(last.totalBytes).toBe(last.bytesRead);
  expect(last.texts).toBe(corpusLines().length);
  expect(last.words).toBeGreaterThan(0);
  for (let i = 1; i < count.length; i++) expect((count[i] as typeof last).bytesRead).toBeGreaterThanOrEqual((count[i - 1] as typeof last).bytesRead);
  const m = merge[merge.length - 1] as Extract<TrainProgress, { phase: 'merge' }>;
  expect(m.done).toBe(true);
  expect(m.merges).toBe(tok.merges.length);
  expect(m.totalMerges).toBe(golden.vocab_size - 256 - golden.special_tokens.length);
  expect(merge.length).toBeGreaterThan(1);
});

test('a malformed line deep in the input fails the run with file:line while workers are busy', async () => {
  const f = path.join(dir, 'late-error.jsonl');
  const good = Array.from({ length: 300 }, (_, i) => JSON.stringify({ text: `document ${i} about the lighthouse keeper` }));
  fs.writeFileSync(f, [...good, '{"text": 5}', ...good].join('\n'));
  await expect(trainBpeFromFiles(f, { ...opts, numThreads: 2, chunkChars: 500, chunkBytes: 1024 })).rejects.toThrow(`${f}:301: "text" is number, not a string`);
  // Skipping it instead gives the same merges as the file without the bad line.
  const clean = path.join(dir, 'clean.jsonl');
  fs.writeFileSync(clean, [...good, ...good].join('\n'));
  const a = await trainBpeFromFiles(f, { ...opts, numThreads: 2, chunkChars: 500, onBadLine: 'skip' });
  const b = await trainBpeFromFiles(clean, { ...opts, numThreads: 1 });
  expect(a.merges).toEqual(b.merges);
});
