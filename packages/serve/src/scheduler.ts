// The batch side of continuous batching: which sequences occupy the KV cache, where their histories
// live in it, and the batched prefill / decode forward passes. Sampling and request bookkeeping are
// the engine's (engine.ts).
//
// Cache layout: one KVCache of maxBatch rows and `capacity` columns (> maxContext) shared by a single
// column timeline 0..c. The active sequences occupy rows 0..n-1 (packed: when one leaves, the last
// row's history is copied into its row), and sequence i's history, `len[i]` positions, fills the
// contiguous columns [start[i], c) of its row. So every history ends at column c and one decode step
// appends column c for every row at once: ids (n, 1), key mask (n, c + 1) = 1 on [start[i], c],
// position ids (n, 1) = len[i]. Keys are stored after RoPE with each sequence's own positions, so
// where a history sits in the columns does not matter; the mask alone says whose columns are whose.
// - Join (prefill): new prompts run together through a temporary left-padded cache, then each
//   history is copied into a free row ending at column c. If a prompt is longer than c, the running
//   histories are first moved right so that they end at its length. Long prompts are prefilled in
//   chunks of at most `prefillChunk` tokens (rows x columns) per step, one chunk between two decode
//   steps, so running streams keep their pace; the joining rows hold their slots meanwhile.
// - Compaction: when column c reaches the capacity, every history is moved to end at column
//   max(len), which is < maxContext, so there is room again (capacity = maxContext + slack).
// - Leave: a finished row frees its slot between steps; the last row moves into the hole so the
//   forward pass only ever runs the n occupied rows (a KVCache.rows(n) view, no copy).
// Trade-offs: every row attends over the whole timeline (masked columns included), so a short
// sequence next to long ones pays for their length; prompts joining together are padded to the
// longest, and one group prefills at a time (requests arriving meanwhile wait for the next group).
// Dynamic NTK RoPE scaling takes its base from the longest position in the batch, so with that
// option rows are not independent; every other model option is row-independent.
import { Tensor, noGrad, tidy } from '@stellar/tensor';
import { positionsFromMask, type KVCache, type StellarForCausalLM } from '@stellar/nn';

/** What the scheduler needs from a sequence: its prompt, and the token to feed at the next decode step. */
export interface BatchRow {
  readonly prompt: readonly number[];
  next: number;
}

/** Prompts being prefilled together: left-padded ids, mask and positions (k, L), and how many columns are done. */
interface PrefillGroup<R> { rows: R[]; lens: number[]; L: number; cache: KVCache; ids: Int32Array; mask: Int32Array; pos: Int32Array; done: number }

export interface SchedulerOptions {
  /** Columns between compactions (default max(16, maxContext / 4)). */
  slack?: number;
  /** Most prompt tokens (rows x columns, padding included) per prefill pass; longer prefills take several steps. Default 512. */
  prefillChunk?: number;
}

export class BatchScheduler<R extends BatchRow> {
  private readonly cache: KVCache;
  private group: PrefillGroup<R> | null = null;
  private readonly prefillChunk: number;
  private readonly active: R[] = [];
  private readonly start: number[] = [];
  private readonly len: number[] = [];
  /** End column of every history (the timeline length). */
  private c = 0;
  /** Forward passes and tokens, for the engine's metrics. */
  readonly counters = { prefillPasses: 0, prefillTokens: 0, decodePasses: 0, decodeTokens: 0, compactions: 0 };

  /** `maxContext`: longest history a sequence may reach. */
  constructor(private readonly model: StellarForCausalLM, readonly maxBatch: number, readonly maxContext: number, opts: SchedulerOptions = {}) {
    const slack = opts.slack ?? Math.max(16, Math.ceil(maxContext / 4));
    this.prefillChunk = opts.prefillChunk ?? 512;
    if (!(Number.isInteger(this.prefillChunk) && this.prefillChunk >= 1)) throw new Error(`BatchScheduler: prefillChunk must be an integer >= 1, got ${this.prefillChunk}`);
    this.cache = model.createCache(maxBatch, maxContext + slack);
  }

  /** Rows in the decode batch (prefilled), in cache-row order. */
  get rows(): readonly R[] { return this.active; }
  /** Rows still being prefilled (they hold slots). */
  get prefilling(): readonly R[] { return this.group?.rows ?? []; }
  get free(): number { return this.maxBatch - this.active.length - this.prefilling.length; }
  /** Columns in use / available, for tests and diagnostics. */
  get columns(): { used: number; capacity: number } { return { used: this.c, capacity: this.cache.capacity }; }

  /** Starts prefilling `rows` together (one group at a time); prefillStep() runs it. */
  join(rows: R[]): void {
    if (rows.length === 0) return;
    if (this.group) throw new Error('BatchScheduler: a prefill is already in progress');
    if (rows.length > this.free) throw new Error(`BatchScheduler: ${rows.length} rows do not fit the ${this.free} free slots`);
    const k = rows.length;
    const lens = rows.map((r) => r.prompt.length);
    const L = Math.max(...lens);
    if (L >= this.maxContext) throw new Error(`BatchScheduler: a prompt of ${L} tokens leaves no room in a context of ${this.maxContext}`);
    // (k, L) left-padded prompts, HF mask and positions, as generate() builds them
    const ids = new Int32Array(k * L), mask = new Int32Array(k * L);
    rows.forEach((r, j) => {
      const off = L - lens[j];
      for (let s = off; s < L; s++) { ids[j * L + s] = r.prompt[s - off]; mask[j * L + s] = 1; }
    });
    this.group = { rows, lens, L, cache: this.model.createCache(k, L), ids, mask, pos: positionsFromMask(mask, k, L), done: 0 };
  }

  /**
   * Runs the next chunk of the prefill in progress. When its prompts are complete, they join the
   * decode batch and their next-token logits (V each) are returned; otherwise (or with no prefill) null.
   * Their `next` must be set before the next decode().
   */
  prefillStep(): { rows: R[]; logits: Float64Array[] } | null {
    const g = this.group;
    if (!g) return null;
    const k = g.rows.length, L = g.L, V = this.model.config.vocabSize;
    const T = Math.min(L - g.done, Math.max(1, Math.floor(this.prefillChunk / k)));
    const cols = (a: Int32Array, from: number, len: number) => {
      const out = new Int32Array(k * len);
      for (let j = 0; j < k; j++) out.set(a.subarray(j * L + from, j * L + from + len), j * len);
      return out;
    };
    const chunkMask = cols(g.mask, g.done, T);
    const logits = this.forward(g.cache, cols(g.ids, g.done, T), cols(g.mask, 0, g.done + T), cols(g.pos, g.done, T), k, T);   // (k, V)
    g.done += T;
    this.counters.prefillPasses++;
    this.counters.prefillTokens += chunkMask.reduce((a, m) => a + m, 0);   // real tokens, not padding
    if (g.done < L) return null;
    this.group = null;
    try {
      if (this.active.length === 0) this.c = 0;
      let target = Math.max(this.c, L);
      if (target + 1 > this.cache.capacity) target = Math.max(this.longest(), L);
      this.moveAll(target);
      g.rows.forEach((r, j) => {
        const row = this.active.length;
        this.cache.copyPositions(g.cache, j, L - g.lens[j], row, target - g.lens[j], g.lens[j]);
        this.active.push(r);
        this.start.push(target - g.lens[j]);
        this.len.push(g.lens[j]);
      });
      return { rows: g.rows, logits: g.rows.map((_, j) => logits.subarray(j * V, (j + 1) * V)) };
    } finally {
      g.cache.dispose();
    }
  }

  /** Drops the prefill in progress (cancellation, failure) and returns its rows. */
  abortPrefill(): R[] {
    const g = this.group;
    if (!g) return [];
    this.group = null;
    g.cache.dispose();
    return g.rows;
  }

  /** One step for every active row: feeds each row's `next`, returns next-token logits per row (V), in `rows` order. */
  decode(): Float64Array[] {
    const n = this.active.length, V = this.model.config.vocabSize;
    if (n === 0) return [];
    if (this.c + 1 > this.cache.capacity) { this.moveAll(this.longest()); this.counters.compactions++; }
    const S = this.c + 1;
    const ids = new Int32Array(n), mask = new Int32Array(n * S), pos = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = this.active[i].next;
      mask.fill(1, i * S + this.start[i], (i + 1) * S);
      pos[i] = this.len[i];
    }
    const view = this.cache.rows(n);
    try {
      view.length = this.c;
      const logits = this.forward(view, ids, mask, pos, n, 1);
      this.c += 1;
      for (let i = 0; i < n; i++) this.len[i]++;
      this.counters.decodePasses++;
      this.counters.decodeTokens += n;
      return this.active.map((_, i) => logits.subarray(i * V, (i + 1) * V));
    } finally {
      view.dispose();
    }
  }

  /** Frees `row`'s slot (the last row moves into it). */
  leave(row: R): void {
    const i = this.active.indexOf(row);
    if (i < 0) return;
    const last = this.active.length - 1;
    if (i !== last) {
      this.cache.copyPositions(this.cache, last, this.start[last], i, this.start[last], this.len[last]);
      this.active[i] = this.active[last];
      this.start[i] = this.start[last];
      this.len[i] = this.len[last];
    }
    this.active.pop(); this.start.pop(); this.len.pop();
    if (this.active.length === 0) this.c = 0;
  }

  /** History length (prompt + fed tokens) of an active row. */
  historyOf(row: R): number { return this.len[this.active.indexOf(row)]; }

  dispose(): void { this.abortPrefill(); this.cache.dispose(); }

  private longest(): number { return this.len.reduce((a, b) => Math.max(a, b), 0); }

  /** Moves every history to end at column `target`. */
  private moveAll(target: number): void {
    if (target === this.c) return;
    for (let i = 0; i < this.active.length; i++) {
      const to = target - this.len[i];
      if (to !== this.start[i]) this.cache.copyPositions(this.cache, i, this.start[i], i, to, this.len[i]);
      this.start[i] = to;
    }
    this.c = target;
  }

  /** One forward pass on `cache` with ids (B, T), key mask (B, past + T) over all columns, positions (B, T); last-position logits (B * V). */
  private forward(cache: KVCache, ids: Int32Array, mask: Int32Array, pos: Int32Array, B: number, T: number): Float64Array {
    return noGrad(() => tidy(() => {
      const out = this.model.forward(Tensor.fromArray(ids, [B, T], { dtype: 'int32' }), {
        cache,
        attentionMask: Tensor.fromArray(mask, [B, mask.length / B], { dtype: 'int32' }),
        positionIds: Tensor.fromArray(pos, [B, T], { dtype: 'int32' }),
        logitsToKeep: 1,
      });
      return out.logits.toFloat64();   // (B, 1, V) on the host
    }));
  }
}
