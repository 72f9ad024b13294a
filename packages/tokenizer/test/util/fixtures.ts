// Loads the committed golden fixtures written by tools/fixtures/make_tokenizer_golden.py.
import fs from 'node:fs';
import path from 'node:path';

export const FIXTURES = path.join(__dirname, '..', 'fixtures');

export interface GoldenCase {
  text: string;
  ids: number[];
}

export interface Golden {
  version: number;
  vocab_size: number;
  min_frequency: number;
  special_tokens: string[];
  gpt2: GoldenCase[];
  gpt4: GoldenCase[];
}

export function readGolden(): Golden {
  const g = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'golden.json'), 'utf8')) as Golden;
  if (g.version !== 1) throw new Error(`golden.json version ${g.version}, expected 1`);
  return g;
}

/** The corpus split into lines that keep their '\n', as tools/fixtures/make_tokenizer_golden.py splits it. */
export function corpusLines(): string[] {
  return fs.readFileSync(path.join(FIXTURES, 'corpus.txt'), 'utf8').split(/(?<=\n)/).filter((l) => l.length > 0);
}

/** Merges of a HF tokenizer.json in [left, right] form. */
export function hfMerges(dir: string): [string, string][] {
  const j = JSON.parse(fs.readFileSync(path.join(FIXTURES, dir, 'tokenizer.json'), 'utf8'));
  return j.model.merges.map((m: string | string[]) => (typeof m === 'string' ? m.split(' ') : m));
}
