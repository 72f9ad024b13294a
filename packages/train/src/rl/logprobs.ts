// Per-token and per-sequence log-probabilities of labels under a causal LM's logits, entropy from
// logits, a numerically stable log-sigmoid and masked means: the tensor pieces every RLHF loss uses.
import { Tensor, abs, affine, crossEntropy, exp, log, logSoftmax, mul, neg, reshape, slice, softmax, sub, sum, tidy } from '@stellar/tensor';

/**
 * log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)), with min(x, 0) written as (x - |x|) / 2 so the
 * gradient is exact everywhere, including 1/2 at x = 0 (where DPO starts: policy == reference).
 */
export function logSigmoid(x: Tensor): Tensor {
  return tidy(() => sub(mul(sub(x, abs(x)), 0.5), log(affine(exp(neg(abs(x))), 1, 1))));
}

/** sum(x * mask) / max(1, sum(mask)) over all elements; mask is a float 0/1 tensor of x's shape. */
export function maskedMeanT(x: Tensor, mask: Tensor): Tensor {
  return tidy(() => mul(sum(mul(x, mask)), 1 / Math.max(1, sum(mask).item())));
}

/** (B, T) float mask of the shifted targets: 1 at t where labels[t + 1] is not -100; shape (B, T - 1). */
export function shiftedTargetMask(labels: Int32Array, B: number, T: number): Float32Array {
  const m = new Float32Array(B * (T - 1));
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) m[b * (T - 1) + t] = labels[b * T + t + 1] !== -100 ? 1 : 0;
  return m;
}

export interface TokenLogprobOptions {
  /** Logits are divided by this first (the sampling temperature of the rollouts; default 1). */
  temperature?: number;
}

/**
 * log p(labels[:, t+1] | logits[:, t]) for the model's shift: logits (B, T, V), labels (B, T) int32
 * aligned with the inputs, -100 = no target. Returns (B, T - 1), 0 where the target is -100. Uses the
 * fused cross-entropy, so no (B, T, V) log-softmax is materialised (TRL's selective_log_softmax).
 */
export function tokenLogprobs(logits: Tensor, labels: Tensor, opts: TokenLogprobOptions = {}): Tensor {
  const [B, T, V] = logits.shape;
  if (labels.shape[0] !== B || labels.shape[1] !== T) throw new Error(`tokenLogprobs: labels [${labels.shape}] do not match logits [${logits.shape}]`);
  const temp = opts.temperature ?? 1;
  if (!(temp > 0)) throw new Error(`tokenLogprobs: temperature must be > 0, got ${temp}`);
  return tidy(() => {
    const lg = slice(logits, 1, 0, T - 1);                                  // (B, T-1, V)
    const scaled = temp === 1 ? lg : mul(lg, 1 / temp);
    const tg = reshape(slice(labels, 1, 1, T), [B * (T - 1)]);              // (B*(T-1))
    const nll = crossEntropy(reshape(scaled, [B * (T - 1), V]), tg, { reduction: 'none', ignoreIndex: -100 });
    return reshape(neg(nll), [B, T - 1]);                                   // (B, T-1)
  });
}

/**
 * Sequence log-probs from per-token ones (B, T') and their 0/1 mask: 'sum' (DPO's log pi(y|x)) or
 * 'mean' over the masked tokens (length-normalised; rows with no token give 0). Returns (B).
 */
export function sequenceLogprobs(tokenLp: Tensor, mask: Tensor, reduce: 'sum' | 'mean' = 'sum'): Tensor {
  return tidy(() => {
    const s = sum(mul(tokenLp, mask), -1);                                   // (B)
    if (reduce === 'sum') return s;
    const n = mask.toFloat64(), [B, T] = mask.shape;
    const inv = new Float32Array(B);
    for (let b = 0; b < B; b++) { let c = 0; for (let t = 0; t < T; t++) c += n[b * T + t]; inv[b] = 1 / Math.max(1, c); }
    return mul(s, Tensor.fromArray(inv, [B]));
  });
}

/** Shannon entropy (nats) of softmax(logits / temperature) over the last axis: (..., V) -> (...). */
export function entropyFromLogits(logits: Tensor, temperature = 1): Tensor {
  return tidy(() => {
    const z = temperature === 1 ? logits : mul(logits, 1 / temperature);
    return neg(sum(mul(softmax(z), logSoftmax(z)), -1));
  });
}
