// Test helpers: temporary folders, a tiny trained tokenizer, and small corpora.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tokenizer, trainBpe } from '@stellar/tokenizer';

export function tmpDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `stellar-data-${name}-`));
}

export const CORPUS = [
  'The lighthouse keeper climbed the steps before dawn.',
  'Ships came home at dusk; the keeper wiped the lens.',
  'Fog rolled over the harbour and the bell rang twice.',
  'Gulls argued over the nets while the tide went out.',
  'Le gardien du phare monte les marches avant l’aube. 灯塔看守人 🌊',
];

let cached: Promise<Tokenizer> | null = null;

/** A small byte-level BPE with <|endoftext|> as EOS (id 0). */
export function tinyTokenizer(): Promise<Tokenizer> {
  cached ??= trainBpe(CORPUS, { vocabSize: 400, eosToken: '<|endoftext|>', padToken: '<|pad|>' });
  return cached;
}

/** Deterministic pseudo-random documents of token ids in [1, vocab). */
export function randomDocs(n: number, vocab: number, seed: number, minLen = 1, maxLen = 40): number[][] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  return Array.from({ length: n }, () => Array.from({ length: minLen + Math.floor(rnd() * (maxLen - minLen + 1)) }, () => 1 + Math.floor(rnd() * (vocab - 1))));
}
