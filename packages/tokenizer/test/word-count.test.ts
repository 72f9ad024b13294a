// Word counting: equals a plain splitText count, is identical across worker-thread counts, and the maxWords cap bounds the table.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compilePattern, countWords, GPT2_PATTERN, GPT4_PATTERN, splitText, trainBpe } from '@stellar/tokenizer';
import { prune } from '../src/count-core.cjs';
import { corpusLines, hfMerges, readGolden } from './util/fixtures';

const specials = ['<|endoftext|>', '<|im_start|>'];
const specialRe = new RegExp(specials.map((s) => s.replace(/[|]/g, '\\|')).join('|'), 'gu');

/** The reference count: the trainer's definition written the obvious way. */
function referenceCounts(texts: string[], pattern: string): Map<string, number> {
  const re = compilePattern(pattern);
  const m = new Map<string, number>();
  for (const t of texts) for (const seg of t.split(specialRe)) for (const p of splitText(seg, re)) m.set(p, (m.get(p) ?? 0) + 1);
  return m;
}

const sorted = (m: Map<string, number>) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

const texts = [
  ...corpusLines(),
  'hello<|endoftext|>world <|im_start|>user\n',
  '   leading spaces and 12345 digits\r\n',
  '灯塔 🌊⚓ mixed  \t tabs',
  '',
];

test('in-thread counts equal the splitText reference (GPT-2 and GPT-4 patterns, special tokens cut out)', async () => {
  for (const pattern of [GPT2_PATTERN, GPT4_PATTERN]) {
    const r = await countWords(texts, { splitRe: compilePattern(pattern), specialRe, numThreads: 1 });
    expect(r.workers).toBe(0);
    expect(r.pruned).toBe(0);
    expect(r.texts).toBe(texts.length);
    expect(sorted(r.counts)).toEqual(sorted(referenceCounts(texts, pattern)));
  }
});

test('worker threads: 2 and 3 threads (1 and 2 workers) with small chunks give exactly the single-thread table', async () => {
  const splitRe = compilePattern(GPT4_PATTERN);
  const one = await countWords(texts, { splitRe, specialRe, numThreads: 1 });
  for (const numThreads of [2, 3]) {
    let chunks = 0;
    async function* stream() {
      yield* texts;
    }
    const r = await countWords(stream(), { splitRe, specialRe, numThreads, chunkChars: 200, onChunk: () => chunks++ });
    expect(r.workers).toBe(numThreads - 1);
    expect(chunks).toBeGreaterThan(numThreads * 2);
    expect(sorted(r.counts)).toEqual(sorted(one.counts));
  }
});

test('trainBpe with 2 counting threads gives the same merges as 1 thread, and as HF tokenizers', async () => {
  const golden = readGolden();
  const opts = { vocabSize: golden.vocab_size, minFrequency: golden.min_frequency, specialTokens: golden.special_tokens };
  const a = await trainBpe(corpusLines(), { ...opts, numThreads: 1 });
  const b = await trainBpe(corpusLines(), { ...opts, numThreads: 2, chunkChars: 300 });
  expect(b.merges).toEqual(a.merges);
  expect(b.merges).toEqual(hfMerges('hf-gpt2'));
});

test('a text that is not a string is refused', async () => {
  await expect(countWords(['ok', 3 as unknown as string], { splitRe: compilePattern(GPT2_PATTERN), specialRe: null, numThreads: 1 })).rejects.toThrow('text 1 is a number');
});

test('maxWords caps the table: rare pieces are dropped, frequent ones survive with near-exact counts', async () => {
  // 50 frequent words (each 40 times) interleaved with 6000 distinct singletons.
  const frequent = Array.from({ length: 50 }, (_, i) => `common${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
  const lines: string[] = [];
  // Base-26 in letters, so every singleton stays one GPT-2 piece.
  const letters = (i: number) => i.toString(26).replace(/./g, (d) => String.fromCharCode(97 + parseInt(d, 26)));
  for (let i = 0; i < 6000; i++) lines.push(`${frequent[i % 50]} rare${letters(i)}`);
  const splitRe = compilePattern(GPT2_PATTERN);
  const exact = await countWords(lines, { splitRe, specialRe: null, numThreads: 1 });
  expect(exact.pruned).toBe(0);
  expect(exact.counts.size).toBe(50 + 6000);

  for (const numThreads of [1, 2]) {
    const capped = await countWords(lines, { splitRe, specialRe: null, numThreads, maxWords: 1000, chunkChars: 20000 });
    expect(capped.pruned).toBeGreaterThan(0);
    expect(capped.counts.size).toBeLessThanOrEqual(1000);
    for (const w of frequent) {
      const c = capped.counts.get(w) ?? 0;
      // Each word can lose at most the occurrences seen before each prune while it was still rare.
      expect(c).toBeLessThanOrEqual(120);
      expect(c).toBeGreaterThan(100);
    }
  }
});

test('prune drops the lowest counts first, oldest first among equals, down to 3/4 of the cap', () => {
  const table = new Map<string, number>([['a', 5], ['b', 1], ['c', 3], ['d', 1], ['e', 3], ['f', 9], ['g', 3], ['h', 2]]);
  // Cap 4 -> keep 3: drop both 1s, the 2, then the two oldest 3s.
  expect(prune(table, 4)).toBe(5);
  expect([...table]).toEqual([['a', 5], ['f', 9], ['g', 3]]);
  expect(prune(table, 4)).toBe(0);
});

// The worker is loaded by path, so check the built package too: both module formats, workers started from dist/.
const dist = path.join(__dirname, '..', 'dist');
const built = fs.existsSync(path.join(dist, 'index.mjs')) && fs.existsSync(path.join(dist, 'count-worker.cjs'));
(built ? test : test.skip)(`built dist ${built ? '' : '(SKIPPED: run npx tsup to build dist) '}counts with workers from ESM and CJS`, () => {
  const body = (mod: string) => `
    const { countWords, compilePattern, GPT2_PATTERN } = ${mod};
    const texts = Array.from({ length: 3000 }, (_, i) => 'line ' + (i % 37) + ' of the text ' + (i % 11) + '\\n');
    const opts = { splitRe: compilePattern(GPT2_PATTERN), specialRe: null };
    const a = await countWords(texts, { ...opts, numThreads: 3, chunkChars: 2000 });
    const b = await countWords(texts, { ...opts, numThreads: 1 });
    const same = JSON.stringify([...a.counts].sort()) === JSON.stringify([...b.counts].sort());
    console.log(JSON.stringify({ workers: a.workers, same, n: a.counts.get(' of') }));`;
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', body(`await import(${JSON.stringify(path.join(dist, 'index.mjs'))})`)], { encoding: 'utf8' });
  const cjs = spawnSync(process.execPath, ['-e', `(async () => { ${body(`require(${JSON.stringify(path.join(dist, 'index.js'))})`)} })()`], { encoding: 'utf8' });
  for (const r of [esm, cjs]) {
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ workers: 2, same: true, n: 3000 });
  }
});
