// The optimizer interface every optimizer implements: a step from the parameters' .grad, a
// learning rate the schedule sets, and a state that checkpoints save and restore exactly.
import type { Tensor } from '@stellar/tensor';

export interface OptimizerState {
  /** Buffers by name (`<param name>.<buffer>`), saved as tensors. */
  tensors: Map<string, Tensor>;
  /** Everything else (step count, hyper-parameters), JSON-safe. */
  meta: Record<string, unknown>;
}

export interface Optimizer {
  /** Peak learning rate the schedule multiplies; set every step by the trainer. */
  lr: number;
  /** Number of steps taken. */
  readonly stepCount: number;
  /** Updates every trainable parameter that has a gradient. */
  step(): void;
  state(): OptimizerState;
  loadState(s: OptimizerState): void;
  /** Frees the buffers. */
  dispose(): void;
}

/** Copies `src` buffers into `dst` by name, refusing missing names or shape mismatches (a checkpoint from another model). */
export function restoreBuffers(kind: string, dst: Map<string, Tensor>, src: Map<string, Tensor>, copy: (d: Tensor, s: Tensor) => void): void {
  const missing = [...dst.keys()].filter((k) => !src.has(k));
  const unexpected = [...src.keys()].filter((k) => !dst.has(k));
  if (missing.length || unexpected.length) {
    throw new Error(`${kind}.loadState: optimizer state does not fit these parameters (missing: ${missing.join(', ') || 'none'}; unexpected: ${unexpected.join(', ') || 'none'})`);
  }
  for (const [k, d] of dst) {
    const s = src.get(k)!;
    if (!s.shapeEquals(d.shape)) throw new Error(`${kind}.loadState: ${k} is [${s.shape.join(', ')}], expected [${d.shape.join(', ')}]`);
    copy(d, s);
  }
}
