// What the trainer consumes: batches of host arrays from a resumable source, and a stage's loss for
// one micro-batch. Stages (pretrain, sft, lora, distill, ...) differ only in these two.
import type { Tensor } from '@stellar/tensor';
import type { Module } from '@stellar/nn';

/** One batch, row-major (B, T) host arrays, as @stellar/data's loaders yield them. */
export interface Batch {
  inputIds: Int32Array;
  /** Aligned with inputIds (the model shifts); -100 = no loss. */
  labels: Int32Array;
  attentionMask?: Uint8Array;
  positionIds?: Int32Array;
  /** Packed rows: the sample each token belongs to (attention stays inside it); -1 on padding. */
  segmentIds?: Int32Array;
  batchSize: number;
  seqLen: number;
}

/** A batch stream whose position can be saved in a checkpoint and restored exactly. */
export interface BatchSource {
  /** The next batch, or null at the end of the data (the trainer then starts a new pass or stops). */
  next(): Promise<Batch | null> | Batch | null;
  state(): unknown;
  restore(state: unknown): void;
}

export interface StepLoss {
  /** Scalar mean loss over this micro-batch's `tokens` (what backward runs on, after token weighting). */
  loss: Tensor;
  /** Tokens the loss averages over (for token-weighted accumulation and eval). */
  tokens: number;
  /** Other scalars to log (e.g. aux loss, KL). */
  metrics?: Record<string, number>;
}

/** Computes a micro-batch's loss with grad enabled; `training` is false during evaluation. */
export type LossFn = (model: Module, batch: Batch, training: boolean) => StepLoss;

/** Tokens with a loss in a batch: labels that are not -100 and not at a row's first position (the model shifts). */
export function countTargets(b: Batch): number {
  let n = 0;
  for (let r = 0; r < b.batchSize; r++) for (let t = 1; t < b.seqLen; t++) if (b.labels[r * b.seqLen + t] !== -100) n++;
  return n;
}
