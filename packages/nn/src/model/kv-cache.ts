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

  constructor(readonly config: ModelConfig, readonly batch: number, readonly capacity: number) {
    if (!(Number.isInteger(batch) && batch > 0)) throw new Error(`KVCache: batch must be a positive integer, got ${batch}`);
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new Error(`KVCache: capacity must be a positive integer, got ${capacity}`);
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

  /** Forgets everything (buffers are reused). */
  reset(): void { this.length = 0; }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t.dispose();
    this.keys.length = 0;
    this.values.length = 0;
  }
}
