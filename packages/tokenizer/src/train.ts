// Byte-level BPE trainer: count words, then merge the most frequent pair, updating pair counts incrementally.
import { BYTE_TO_CHAR, byteAlphabet } from './byte-level';
import { readCorpus, type CorpusOptions, type CorpusReader } from './corpus/read';
import { Heap } from './heap';
import { compilePattern, GPT2_PATTERN } from './pretokenize';
import { MAX_ID, Tokenizer } from './tokenizer';
import { countWords } from './word-count';

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
  /** Word-counting threads (worker_threads); 1 counts in this thread. Default `os.availableParallelism()`. */
  numThreads?: number;
  /**
   * Cap on distinct pieces held while counting (per thread). Memory is O(distinct pieces); past the cap
   * the rarest pieces are dropped (count 1 first), which makes the result approximate, only then.
   */
  maxWords?: number;
  /** Texts go to the counting threads in chunks of about this many chars (default 1M). */
  chunkChars?: number;
  /** Progress of the two phases: counting (per chunk) and merging (every 100 merges), each ending with `done: true`. */
  onProgress?: (p: TrainProgress) => void;
}

export type TrainProgress =
  | {
      phase: 'count';
      texts: number;
      /** Bytes read and expected when training from files (0 for in-memory texts). */
      bytesRead: number;
      totalBytes: number;
      elapsedMs: number;
      done: boolean;
      /** Distinct pieces, entries dropped by `maxWords`, and threads that counted (only on the final event). */
      words?: number;
      pruned?: number;
      threads?: number;
    }
  | { phase: 'merge'; merges: number; totalMerges: number; elapsedMs: number; done: boolean };

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
 * Trains on the texts of files, directories or globs, streamed (see `readCorpus` for how plain text
 * and JSONL become texts); memory grows with the number of distinct pieces, not with the corpus.
 */
export async function trainBpeFromFiles(inputs: string | readonly string[], opts: TrainOptions & CorpusOptions): Promise<Tokenizer> {
  return trainBpe(readCorpus(inputs, opts), opts);
}

/**
 * Trains a byte-level BPE tokenizer on `texts` (each item is pre-tokenized on its own; pass lines,
 * documents, one string or a `readCorpus` reader). Deterministic: the same corpus and options always
 * give the same merges, whatever the number of threads.
 */
export async function trainBpe(texts: string | Iterable<string> | AsyncIterable<string> | CorpusReader, opts: TrainOptions): Promise<Tokenizer> {
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
  const progress = opts.onProgress;
  const corpusStats = 'stats' in items ? (items as CorpusReader).stats : null;
  const t0 = performance.now();
  const countEvent = (texts: number, done: boolean) => ({
    phase: 'count' as const,
    texts,
    // Reads go by whole chunks and may pass the end of a slice; report what the slice holds.
    bytesRead: corpusStats ? Math.min(corpusStats.bytesRead, corpusStats.targetBytes) : 0,
    totalBytes: corpusStats?.targetBytes ?? 0,
    elapsedMs: performance.now() - t0,
    done,
  });
  const counted = await countWords(items, {
    splitRe,
    specialRe,
    numThreads: opts.numThreads,
    maxWords: opts.maxWords,
    chunkChars: opts.chunkChars,
    onChunk: progress && ((n) => progress(countEvent(n, false))),
  });
  const wordCounts = counted.counts;
  progress?.({ ...countEvent(counted.texts, true), words: wordCounts.size, pruned: counted.pruned, threads: counted.workers + 1 });
  // The merge phase is timed from here: building the word and pair tables is part of it.
  const t1 = performance.now();

  // Ids: special tokens, then the byte alphabet by code point, then one per merge.
  const idToToken: string[] = [];
  const tokenToId = new Map<string, number>();
  for (const t of [...specials, ...byteAlphabet()]) {
    if (tokenToId.has(t)) continue;
    tokenToId.set(t, idToToken.length);
    idToToken.push(t);
  }

  // Each word as ids of its UTF-8 bytes (what toByteLevel + vocab lookup gives, without the intermediate string).
  const byteIds = BYTE_TO_CHAR.map((ch) => tokenToId.get(ch)!);
  const utf8 = new TextEncoder();
  let buf = new Uint8Array(1024);
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [piece, c] of wordCounts) {
    if (piece.length * 3 > buf.length) buf = new Uint8Array(piece.length * 3);
    const n = utf8.encodeInto(piece, buf).written;
    const w = new Array<number>(n);
    for (let i = 0; i < n; i++) w[i] = byteIds[buf[i]];
    words.push(w);
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
  const totalMerges = Math.max(0, opts.vocabSize - tokenToId.size);
  const mergeEvent = (done: boolean) => ({ phase: 'merge' as const, merges: merges.length, totalMerges, elapsedMs: performance.now() - t1, done });
  /** Applies a word's pair-count change; a pair that gains occurrences is (re)queued with the words that have it. */
  const change = (x: number, y: number, delta: number, wi: number) => {
    const k = key(x, y);
    pairCounts.set(k, (pairCounts.get(k) ?? 0) + delta);
    if (delta > 0) {
      let s = where.get(k);
      if (!s) where.set(k, (s = new Set()));
      s.add(wi);
    }
  };
  // A first event once the tables are built, so a rate can be measured from the first merge on.
  progress?.(mergeEvent(false));
  let reported = 0;
  while (tokenToId.size < opts.vocabSize && queue.size > 0) {
    if (progress && merges.length >= reported + 100) {
      reported = merges.length;
      progress(mergeEvent(false));
    }
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
    for (const wi of top.words) mergeWord(words[wi], top.a, top.b, id, wi, counts[wi], change);
    enqueue();
  }
  progress?.(mergeEvent(true));

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
 * Replaces every (a, b) in word `w` (in place) by `id`, left to right, reporting each pair that
 * disappears (-count) or appears (+count) around a replacement. The merged pair itself is not
 * reported: it is never queued again.
 */
function mergeWord(w: number[], a: number, b: number, id: number, wi: number, count: number, change: (x: number, y: number, delta: number, wi: number) => void): void {
  // Writing at j <= i never overwrites a symbol still to be read.
  let j = 0;
  for (let i = 0; i < w.length; i++) {
    if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
      if (j > 0) {
        const prev = w[j - 1];
        change(prev, a, -count, wi);
        change(prev, id, count, wi);
      }
      if (i + 2 < w.length) {
        change(b, w[i + 2], -count, wi);
        change(id, w[i + 2], count, wi);
      }
      w[j++] = id;
      i++;
    } else w[j++] = w[i];
  }
  w.length = j;
}
