// Byte-level BPE trainer: count words, then merge the most frequent pair, updating pair counts incrementally.
import { byteAlphabet, toByteLevel } from './byte-level';
import { Heap } from './heap';
import { compilePattern, GPT2_PATTERN, splitText } from './pretokenize';
import { MAX_ID, Tokenizer } from './tokenizer';

/** Reserved ids 0.. in this order unless `specialTokens` is given. */
export const DEFAULT_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|pad|>'];

export interface TrainOptions {
  /** Final vocabulary size, special tokens and the 256-byte alphabet included. */
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged. */
  minFrequency?: number;
  /** Get the first ids, in order; they are cut out of training text, never merged. */
  specialTokens?: string[];
  /** Split regex (HF syntax), GPT-2's by default; see `splitPattern`. */
  pattern?: string;
  bosToken?: string | null;
  eosToken?: string | null;
  padToken?: string | null;
}

/** One candidate merge in the queue; `count` may be stale and is rechecked when popped. */
interface Candidate {
  a: number;
  b: number;
  count: number;
  /** Indices of words that contained the pair when it was queued. */
  words: number[];
}

/** Highest count first; ties go to the smaller (left id, right id) pair, i.e. the older tokens (HF's rule). */
const before = (x: Candidate, y: Candidate) => x.count > y.count || (x.count === y.count && (x.a < y.a || (x.a === y.a && x.b < y.b)));

const key = (a: number, b: number) => a * MAX_ID + b;

/**
 * Trains a byte-level BPE tokenizer on `texts` (each item is pre-tokenized on its own; pass lines,
 * documents or one string). Deterministic: the same corpus and options always give the same merges.
 */
export async function trainBpe(texts: string | Iterable<string> | AsyncIterable<string>, opts: TrainOptions): Promise<Tokenizer> {
  // A bare string is one text, not an iterable of characters.
  const items = typeof texts === 'string' ? [texts] : texts;
  const specials = opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const minFrequency = opts.minFrequency ?? 0;
  const pattern = opts.pattern ?? GPT2_PATTERN;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 1 || opts.vocabSize >= MAX_ID) throw new Error(`trainBpe: vocabSize must be an integer in [1, ${MAX_ID})`);
  if (new Set(specials).size !== specials.length) throw new Error('trainBpe: duplicate special tokens');

  // Word counting: pieces keyed by their raw text (cheaper than byte-level strings until the end).
  const splitRe = compilePattern(pattern);
  const specialRe = specials.length ? new RegExp(specials.map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'gu') : null;
  const wordCounts = new Map<string, number>();
  for await (const text of items as AsyncIterable<string>) {
    for (const seg of specialRe ? text.split(specialRe) : [text]) {
      for (const piece of splitText(seg, splitRe)) wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
    }
  }

  // Ids: special tokens, then the byte alphabet by code point, then one per merge.
  const idToToken: string[] = [];
  const tokenToId = new Map<string, number>();
  for (const t of [...specials, ...byteAlphabet()]) {
    if (tokenToId.has(t)) continue;
    tokenToId.set(t, idToToken.length);
    idToToken.push(t);
  }

  const words: number[][] = [];
  const counts: number[] = [];
  for (const [piece, c] of wordCounts) {
    words.push(Array.from(toByteLevel(piece), (ch) => tokenToId.get(ch)!));
    counts.push(c);
  }

  const pairCounts = new Map<number, number>();
  let where = new Map<number, Set<number>>();
  words.forEach((w, i) => {
    for (let j = 0; j + 1 < w.length; j++) {
      const k = key(w[j], w[j + 1]);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + counts[i]);
      let s = where.get(k);
      if (!s) where.set(k, (s = new Set()));
      s.add(i);
    }
  });
  const queue = new Heap<Candidate>(before);
  const enqueue = () => {
    for (const [k, s] of where) {
      const c = pairCounts.get(k)!;
      if (c > 0) queue.push({ a: Math.floor(k / MAX_ID), b: k % MAX_ID, count: c, words: [...s] });
    }
    where = new Map();
  };
  enqueue();

  const merges: [string, string][] = [];
  while (tokenToId.size < opts.vocabSize && queue.size > 0) {
    const top = queue.pop()!;
    const current = pairCounts.get(key(top.a, top.b))!;
    if (top.count !== current) {
      // Stale: the pair lost occurrences to earlier merges; requeue at its true count.
      top.count = current;
      queue.push(top);
      continue;
    }
    if (top.count < 1 || top.count < minFrequency) break;
    const merged = idToToken[top.a] + idToToken[top.b];
    let id = tokenToId.get(merged);
    if (id === undefined) {
      id = idToToken.length;
      idToToken.push(merged);
      tokenToId.set(merged, id);
    }
    merges.push([idToToken[top.a], idToToken[top.b]]);
    for (const wi of top.words) mergeWord(words, wi, top.a, top.b, id, (a, b, delta) => {
      const k = key(a, b);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + delta * counts[wi]);
      if (delta > 0) {
        let s = where.get(k);
        if (!s) where.set(k, (s = new Set()));
        s.add(wi);
      }
    });
    enqueue();
  }

  const vocab = new Map<string, number>();
  idToToken.forEach((t, i) => {
    if (i >= specials.length) vocab.set(t, i);
  });
  specials.forEach((t, i) => vocab.set(t, i));
  return new Tokenizer({
    vocab,
    merges,
    addedTokens: specials.map((content, id) => ({ id, content, special: true })),
    pattern,
    bosToken: opts.bosToken ?? null,
    eosToken: opts.eosToken ?? null,
    padToken: opts.padToken ?? null,
  });
}

/**
 * Replaces every (a, b) in word `wi` by `id`, left to right, reporting each pair that disappears (-1)
 * or appears (+1) around a replacement. The merged pair itself is not reported: it is never queued again.
 */
function mergeWord(words: number[][], wi: number, a: number, b: number, id: number, change: (x: number, y: number, delta: number) => void): void {
  const w = words[wi];
  const out: number[] = [];
  for (let i = 0; i < w.length; i++) {
    if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
      if (out.length > 0) {
        const prev = out[out.length - 1];
        change(prev, a, -1);
        change(prev, id, 1);
      }
      if (i + 2 < w.length) {
        change(b, w[i + 2], -1);
        change(id, w[i + 2], 1);
      }
      out.push(id);
      i++;
    } else out.push(w[i]);
  }
  words[wi] = out;
}
