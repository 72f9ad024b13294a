// Sequence log-probs of preference pairs under a model: the policy's (with gradient, for DPO) and
// the frozen reference's, computed once per dataset under noGrad and stored on the pairs. A LoRA
// policy can be its own reference: withAdaptersDisabled runs the base weights without a second copy.
import { Tensor, noGrad, tidy, slice } from '@stellar/tensor';
import type { LoraModel, Module, StellarForCausalLM } from '@stellar/nn';
import { batchTensors } from '../trainer/lm-loss';
import { sequenceLogprobs, shiftedTargetMask, tokenLogprobs } from './logprobs';
import { collatePairs, type PairBatch, type PreferencePair } from './pairs';

export interface PairLogps {
  chosen: Tensor;    // (P) sum of log-probs over each chosen response
  rejected: Tensor;  // (P)
  /** Response tokens per pair (for IPO's per-token average and logging). */
  chosenTokens: Float64Array;
  rejectedTokens: Float64Array;
}

/** One forward over a pair batch's 2P rows; the result carries the gradient when grad is enabled. */
export function pairLogprobs(model: StellarForCausalLM, b: PairBatch): PairLogps {
  const P = b.pairs, T = b.seqLen;
  const t = batchTensors(b);
  const maskHost = shiftedTargetMask(b.labels, 2 * P, T);
  const counts = new Float64Array(2 * P);
  for (let r = 0; r < 2 * P; r++) for (let s = 0; s < T - 1; s++) counts[r] += maskHost[r * (T - 1) + s];
  return tidy(() => {
    const logits = model.forward(t.ids, { attentionMask: t.mask, positionIds: t.positions }).logits;   // (2P, T, V)
    const seq = sequenceLogprobs(tokenLogprobs(logits, t.labels), Tensor.fromArray(maskHost, [2 * P, T - 1]), 'sum');   // (2P)
    return { chosen: slice(seq, 0, 0, P), rejected: slice(seq, 0, P, 2 * P), chosenTokens: counts.slice(0, P), rejectedTokens: counts.slice(P) };
  });
}

/** Sums of log-probs of each pair's chosen and rejected response under `model`, without gradients. */
export function scorePairs(model: StellarForCausalLM, pairs: readonly PreferencePair[], opts: { batchPairs?: number; padTokenId?: number } = {}): { chosen: Float64Array; rejected: Float64Array } {
  const bp = opts.batchPairs ?? 8;
  const chosen = new Float64Array(pairs.length), rejected = new Float64Array(pairs.length);
  const was = model.training;
  model.eval();
  try {
    for (let i = 0; i < pairs.length; i += bp) {
      const b = collatePairs(pairs.slice(i, i + bp), opts.padTokenId ?? 0);
      noGrad(() => tidy(() => {
        const r = pairLogprobs(model, b);
        chosen.set(r.chosen.toFloat64(), i);
        rejected.set(r.rejected.toFloat64(), i);
      }));
    }
  } finally { model.train(was); }
  return { chosen, rejected };
}

/**
 * DPO's reference pass, once per dataset: stores refChosen/refRejected on every pair (so PairSource
 * batches carry them and the reference model can be freed before training). Returns the pairs.
 */
export function precomputeReferenceLogps<P extends PreferencePair>(reference: StellarForCausalLM, pairs: P[], opts: { batchPairs?: number; padTokenId?: number } = {}): P[] {
  const { chosen, rejected } = scorePairs(reference, pairs, opts);
  pairs.forEach((p, i) => { p.refChosen = chosen[i]; p.refRejected = rejected[i]; });
  return pairs;
}

/**
 * Runs fn with every LoRA adapter of `lora` detached, i.e. on the frozen base weights: a LoRA policy
 * serves as its own reference (PEFT's disable_adapter). Merged adapters cannot be switched off.
 */
export function withAdaptersDisabled<T, M extends Module>(lora: LoraModel<M>, fn: () => T): T {
  if (lora.merged) throw new Error('withAdaptersDisabled: the adapters are merged into the weights; unmerge() first');
  const adapters = [...lora.adapters.values()];
  for (const a of adapters) a.base.setAdapter(null);
  try { return fn(); } finally { for (const a of adapters) a.base.setAdapter(a); }
}
