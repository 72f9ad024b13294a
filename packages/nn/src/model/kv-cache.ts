// KV cache for incremental decoding: per layer, preallocated key/value buffers (B, Hkv, capacity, D)
// filled left to right; attention reads the filled prefix as a strided view, so nothing is copied
// beyond the new step's keys and values.
import { Tensor, zeros, slice, copyInto, tidy, keep } from '@stellar/tensor';
import type { ModelConfig } from '../config';
import { headDim } from '../config';

export class KVCache {
  /** Positions already stored (the same for every row: batches are left-padded to one length). */
  length = 0;
  private readonly keys: Tensor[] = [];
  private readonly values: Tensor[] = [];

  /** `shared` (internal, see rows()): buffers of a parent cache to view instead of allocating. */
  constructor(readonly config: ModelConfig, readonly batch: number, readonly capacity: number, shared?: { keys: Tensor[]; values: Tensor[] }) {
    if (!(Number.isInteger(batch) && batch > 0)) throw new Error(`KVCache: batch must be a positive integer, got ${batch}`);
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new Error(`KVCache: capacity must be a positive integer, got ${capacity}`);
    if (shared) {
      this.keys.push(...shared.keys);
      this.values.push(...shared.values);
      return;
    }
    const shape = [batch, config.numKeyValueHeads, capacity, headDim(config)];   // (B, Hkv, S_max, D)
    for (let i = 0; i < config.numHiddenLayers; i++) {
      this.keys.push(keep(zeros(shape)));
      this.values.push(keep(zeros(shape)));
    }
  }

  /** Bytes held by the buffers. */
  get bytes(): number { return this.keys.reduce((n, k) => n + k.size * 8, 0); }

  /**
   * Stores layer `layer`'s new keys/values k, v (B, Hkv, T, D) after the first `length` positions and
   * returns views of everything stored so far, (B, Hkv, length + T, D). `advance(T)` commits the step
   * once every layer has appended.
   */
  append(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const [B, , T] = k.shape;
    if (B !== this.batch) throw new Error(`KVCache: batch ${B} does not match the cache's ${this.batch}`);
    const end = this.length + T;
    if (end > this.capacity) throw new Error(`KVCache: ${end} positions exceed the capacity ${this.capacity}; create a larger cache`);
    tidy(() => {
      copyInto(slice(this.keys[layer], 2, this.length, end), k);
      copyInto(slice(this.values[layer], 2, this.length, end), v);
    });
    return [slice(this.keys[layer], 2, 0, end), slice(this.values[layer], 2, 0, end)];
  }

  advance(t: number): void {
    if (this.length + t > this.capacity) throw new Error('KVCache: advance past capacity');
    this.length += t;
  }

  /**
   * Copies `len` positions of row `srcRow` of `src` starting at column `srcStart` into row `dstRow` of
   * this cache at column `dstStart`, in every layer. `src` may be this cache, with overlapping ranges
   * (a row's history shifted along the columns). `length` is not changed: the caller owns the layout.
   */
  copyPositions(src: KVCache, srcRow: number, srcStart: number, dstRow: number, dstStart: number, len: number): void {
    if (src.config.numHiddenLayers !== this.config.numHiddenLayers || src.config.numKeyValueHeads !== this.config.numKeyValueHeads || headDim(src.config) !== headDim(this.config)) {
      throw new Error('KVCache.copyPositions: the caches belong to different model shapes');
    }
    const ok = (c: KVCache, row: number, start: number) => Number.isInteger(row) && row >= 0 && row < c.batch && Number.isInteger(start) && start >= 0 && start + len <= c.capacity;
    if (!Number.isInteger(len) || len < 0 || !ok(src, srcRow, srcStart) || !ok(this, dstRow, dstStart)) {
      throw new Error(`KVCache.copyPositions: row ${srcRow} [${srcStart}, ${srcStart + len}) -> row ${dstRow} [${dstStart}, ${dstStart + len}) is outside the caches (batch ${src.batch} / ${this.batch}, capacity ${src.capacity} / ${this.capacity})`);
    }
    if (len === 0) return;
    const overlap = src.keys[0] === this.keys[0] && srcRow === dstRow;
    const part = (t: Tensor, row: number, start: number) => slice(slice(t, 0, row, row + 1), 2, start, start + len);   // (1, Hkv, len, D)
    tidy(() => {
      for (let l = 0; l < this.keys.length; l++) {
        for (const [d, s] of [[this.keys[l], src.keys[l]], [this.values[l], src.values[l]]]) {
          const from = part(s, srcRow, srcStart);
          // overlapping ranges of one row go through a copy, since the copy kernel walks in one direction
          copyInto(part(d, dstRow, dstStart), overlap ? from.clone() : from);
        }
      }
    });
  }

  /**
   * A cache over rows [0, n) of this one: the same buffers (no copy), its own `length`, starting at
   * this cache's. A serving loop runs only its occupied rows through the model with it. Disposing the
   * view never frees the parent's buffers.
   */
  rows(n: number): KVCache {
    if (!(Number.isInteger(n) && n >= 1 && n <= this.batch)) throw new Error(`KVCache.rows: n must be in [1, ${this.batch}], got ${n}`);
    const view = (t: Tensor) => keep(slice(t, 0, 0, n));
    const v = new KVCache(this.config, n, this.capacity, { keys: this.keys.map(view), values: this.values.map(view) });
    v.length = this.length;
    return v;
  }

  /** Forgets everything (buffers are reused). */
  reset(): void { this.length = 0; }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t.dispose();
    this.keys.length = 0;
    this.values.length = 0;
  }
}
