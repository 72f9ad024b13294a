// Preference pairs as Trainer batches: each batch holds P pairs as 2P right-padded rows (chosen rows
// first, then rejected) with response-only labels, plus per-pair reference log-probs and margins,
// served in seeded per-epoch order through a cursor that checkpoints save and restore.
import type { Batch, BatchSource } from '../trainer/types';

/** One encoded pair (@stellar/data's encodePreference output fits), optionally with its reference log-probs. */
export interface PreferencePair {
  chosen: { ids: number[]; labels: number[] };
  rejected: { ids: number[]; labels: number[] };
  /** Per-pair margin for the reward-model loss (TRL's "margin" column). */
  margin?: number;
  /** Sum of the reference model's log-probs over each response (set by precomputeReferenceLogps). */
  refChosen?: number;
  refRejected?: number;
}

/** A Batch whose rows [0, pairs) are the chosen answers and rows [pairs, 2 pairs) the rejected ones. */
export interface PairBatch extends Batch {
  pairs: number;
  /** (pairs) reference sequence log-probs, when every pair of the batch has them. */
  refChosen?: Float64Array;
  refRejected?: Float64Array;
  margins?: Float64Array;
}

export function isPairBatch(b: Batch): b is PairBatch {
  return typeof (b as PairBatch).pairs === 'number' && b.batchSize === 2 * (b as PairBatch).pairs;
}

/** Right-pads the pairs' 2P rows to the longest; padding has attention 0 and label -100. */
export function collatePairs(pairs: readonly PreferencePair[], padTokenId = 0): PairBatch {
  const P = pairs.length;
  if (!P) throw new Error('collatePairs: no pairs');
  const rows = [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)];
  const T = Math.max(...rows.map((r) => r.ids.length));
  const inputIds = new Int32Array(2 * P * T).fill(padTokenId), labels = new Int32Array(2 * P * T).fill(-100), attentionMask = new Uint8Array(2 * P * T);
  rows.forEach((r, i) => {
    if (r.labels.length !== r.ids.length) throw new Error(`collatePairs: row ${i} has ${r.ids.length} ids and ${r.labels.length} labels`);
    inputIds.set(r.ids, i * T);
    labels.set(r.labels, i * T);
    attentionMask.fill(1, i * T, i * T + r.ids.length);
  });
  const b: PairBatch = { inputIds, labels, attentionMask, batchSize: 2 * P, seqLen: T, pairs: P };
  if (pairs.every((p) => p.refChosen !== undefined && p.refRejected !== undefined)) {
    b.refChosen = Float64Array.from(pairs, (p) => p.refChosen!);
    b.refRejected = Float64Array.from(pairs, (p) => p.refRejected!);
  }
  if (pairs.some((p) => p.margin !== undefined)) b.margins = Float64Array.from(pairs, (p) => p.margin ?? 0);
  return b;
}

/** mulberry32: a tiny seeded generator for the epoch permutations. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PairSourceOptions {
  /** Pairs per batch (the batch has twice as many rows). */
  batchPairs: number;
  seed?: number;
  shuffle?: boolean;      // true
  /** Passes over the pairs before next() returns null (default: endless). */
  epochs?: number;
  padTokenId?: number;
  /** Drop a last partial batch of an epoch (default false). */
  dropLast?: boolean;
}

interface PairCursor { epoch: number; index: number; seed: number }

export class PairSource implements BatchSource {
  private cursor: PairCursor;
  private perm: { epoch: number; order: Uint32Array } | null = null;

  constructor(readonly pairs: readonly PreferencePair[], readonly opts: PairSourceOptions) {
    if (!pairs.length) throw new Error('PairSource: no pairs');
    if (!(Number.isInteger(opts.batchPairs) && opts.batchPairs >= 1)) throw new Error(`PairSource: batchPairs must be a positive integer, got ${opts.batchPairs}`);
    this.cursor = { epoch: 0, index: 0, seed: opts.seed ?? 0 };
  }

  private order(epoch: number): Uint32Array {
    if (this.perm?.epoch === epoch) return this.perm.order;
    const n = this.pairs.length, order = Uint32Array.from({ length: n }, (_, i) => i);
    if (this.opts.shuffle ?? true) {
      const r = mulberry32((this.cursor.seed * 1000003 + epoch) >>> 0);
      for (let i = n - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
    }
    this.perm = { epoch, order };
    return order;
  }

  next(): PairBatch | null {
    const n = this.pairs.length, bp = this.opts.batchPairs;
    let { epoch, index } = this.cursor;
    if (index >= n || (this.opts.dropLast && index + bp > n)) { epoch++; index = 0; }
    if (epoch >= (this.opts.epochs ?? Infinity)) return null;
    const order = this.order(epoch);
    const take = Array.from(order.subarray(index, Math.min(n, index + bp)), (i) => this.pairs[i]);
    this.cursor = { ...this.cursor, epoch, index: index + take.length };
    return collatePairs(take, this.opts.padTokenId ?? 0);
  }

  state(): PairCursor { return { ...this.cursor }; }
  restore(s: unknown): void {
    const c = s as PairCursor;
    if (!c || !Number.isInteger(c.epoch) || !Number.isInteger(c.index) || typeof c.seed !== 'number') throw new Error('PairSource.restore: bad cursor');
    this.cursor = { ...c };
  }
}
