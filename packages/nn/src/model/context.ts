// What every decoder layer needs to know about one forward pass besides its input: positions,
// the effective RoPE base, the key padding mask, the segment ids of packed rows, the KV cache, and
// where MoE layers put their losses.
import type { Generator, Tensor } from '@stellar/tensor';
import type { KVCache } from './kv-cache';

export interface ForwardContext {
  /** (T) shared by every row, or (B, T) per row; int32. */
  positions: Tensor;
  /** RoPE base for this pass (dynamic NTK scaling changes it with the sequence length). */
  ropeTheta: number;
  /** (B, S) bool over all S = cached + new keys; null when every key is visible. */
  keyPaddingMask: Tensor | null;
  /** (B, S) int32 segment ids of packed rows over all S keys: a token attends only within its own
   *  segment (sample); null when each row is one sample. */
  segmentIds: Tensor | null;
  cache: KVCache | null;
  /** Source of dropout / drop-path / router-noise randomness in training. */
  generator: Generator;
  /** MoE layers push their router logits (N, E) and chosen experts (N, k) here: the load-balancing
   *  loss pools them over all layers, as transformers does. */
  routerLogits: Tensor[];
  topkIndices: Tensor[];
  /** MoE layers push their z-losses (scalars) here. */
  zLosses: Tensor[];
}
