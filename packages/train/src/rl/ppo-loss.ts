// The clipped surrogate objectives: PPO's policy and value losses (TRL's PPO trainer formulas) and
// GRPO's per-token clipped objective with an optional k3 KL to the reference (DeepSeekMath; TRL's
// GRPOTrainer with loss_type 'grpo' / 'bnpo'). All take per-token (B, T) tensors and a 0/1 mask.
import { Tensor, add, div, exp, maximum, minimum, mul, neg, square, sub, sum, tidy, full } from '@stellar/tensor';
import { klPerToken } from './kl';
import { maskedMeanT } from './logprobs';

/** clamp(x, lo, hi) with tensor or number bounds; the gradient passes where x is inside. */
export function clampT(x: Tensor, lo: Tensor | number, hi: Tensor | number): Tensor {
  return tidy(() => {
    const t = (v: Tensor | number) => (typeof v === 'number' ? full([], v) : v);
    return minimum(maximum(x, t(lo)), t(hi));
  });
}

function maskedFraction(cond: (i: number) => boolean, mask: Float64Array): number {
  let n = 0, c = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) { n++; if (cond(i)) c++; }
  return n ? c / n : 0;
}

export interface PolicyLossResult {
  loss: Tensor;
  /** Fraction of masked tokens where the clipped term was the larger loss. */
  clipFrac: number;
  /** 0.5 * masked mean of (logp - oldLogp)^2 (TRL's approxkl). */
  approxKl: number;
}

/**
 * PPO clipped surrogate: masked mean of max(-A r, -A clip(r, 1 - eps, 1 + eps)), r = exp(logp - oldLogp).
 * logp (B, T) carries the gradient; oldLogp, advantages and mask are constants.
 */
export function ppoPolicyLoss(logp: Tensor, oldLogp: Tensor, advantages: Tensor, mask: Tensor, clip = 0.2): PolicyLossResult {
  const m = mask.toFloat64();
  let clipFrac = 0, approxKl = 0;
  const loss = tidy(() => {
    const diff = sub(logp, oldLogp);                                        // (B, T)
    const ratio = exp(diff);
    const l1 = mul(neg(advantages), ratio);
    const l2 = mul(neg(advantages), clampT(ratio, 1 - clip, 1 + clip));
    const a = l1.toFloat64(), b = l2.toFloat64(), d = diff.toFloat64();
    clipFrac = maskedFraction((i) => b[i] > a[i], m);
    let s = 0, n = 0;
    for (let i = 0; i < m.length; i++) if (m[i]) { s += d[i] * d[i]; n++; }
    approxKl = n ? (0.5 * s) / n : 0;
    return maskedMeanT(maximum(l1, l2), mask);
  });
  return { loss, clipFrac, approxKl };
}

/**
 * PPO clipped value loss: 0.5 * masked mean of max((v - R)^2, (clip(v, v_old - c, v_old + c) - R)^2).
 */
export function ppoValueLoss(values: Tensor, oldValues: Tensor, returns: Tensor, mask: Tensor, clip = 0.2): { loss: Tensor; clipFrac: number } {
  const m = mask.toFloat64();
  let clipFrac = 0;
  const loss = tidy(() => {
    const l1 = square(sub(values, returns));                                 // (B, T)
    const l2 = square(sub(clampT(values, add(oldValues, -clip), add(oldValues, clip)), returns));
    const a = l1.toFloat64(), b = l2.toFloat64();
    clipFrac = maskedFraction((i) => b[i] > a[i], m);
    return mul(maskedMeanT(maximum(l1, l2), mask), 0.5);
  });
  return { loss, clipFrac };
}

export interface GrpoLossOptions {
  /** Lower and upper clip ranges of the ratio (epsilon, epsilon_high in TRL; default 0.2 both). */
  epsilonLow?: number;
  epsilonHigh?: number;
  /** KL coefficient (TRL's beta); 0 leaves refLogp unused (default 0.04 as in the DeepSeekMath paper). */
  beta?: number;
  /** 'sequence': mean over each row's tokens, then over rows (TRL 'grpo'); 'token': over all tokens (TRL 'bnpo'). */
  aggregate?: 'sequence' | 'token';
}

/**
 * GRPO objective per token: -min(r A, clip(r, 1 - eps_lo, 1 + eps_hi) A) + beta * k3(pi, ref), with
 * r = exp(logp - oldLogp) and A the sequence's advantage (B) broadcast over its tokens; aggregated
 * per `aggregate`. Returns the loss and the clip fraction / mean KL to log.
 */
export function grpoLoss(logp: Tensor, oldLogp: Tensor, refLogp: Tensor | null, advantages: Tensor, mask: Tensor, o: GrpoLossOptions = {}): { loss: Tensor; clipFrac: number; kl: number } {
  const lo = o.epsilonLow ?? 0.2, hi = o.epsilonHigh ?? lo, beta = o.beta ?? 0.04, agg = o.aggregate ?? 'sequence';
  if (beta !== 0 && !refLogp) throw new Error('grpoLoss: beta > 0 needs the reference log-probs');
  const m = mask.toFloat64();
  const [B, T] = logp.shape;
  let clipFrac = 0, kl = 0;
  const loss = tidy(() => {
    const ratio = exp(sub(logp, oldLogp));                                    // (B, T)
    const adv = advantages.ndim === 1 ? advantages.reshape([B, 1]) : advantages;
    const l1 = mul(ratio, adv), l2 = mul(clampT(ratio, 1 - lo, 1 + hi), adv);
    const r = ratio.toFloat64(), av = adv.toFloat64();
    const A = (i: number) => (av.length === B ? av[Math.floor(i / T)] : av[i]);
    clipFrac = maskedFraction((i) => (r[i] < 1 - lo && A(i) < 0) || (r[i] > 1 + hi && A(i) > 0), m);
    let per = neg(minimum(l1, l2));
    if (beta !== 0) {
      const k = klPerToken(logp, refLogp!, 'k3');
      const kv = k.toFloat64();
      let s = 0, n = 0;
      for (let i = 0; i < m.length; i++) if (m[i]) { s += kv[i]; n++; }
      kl = n ? s / n : 0;
      per = add(per, mul(k, beta));
    }
    if (agg === 'token') return maskedMeanT(per, mask);
    const counts = new Float32Array(B);
    for (let b = 0; b < B; b++) { let c = 0; for (let t = 0; t < T; t++) c += m[b * T + t]; counts[b] = Math.max(1, c); }
    const rows = div(sum(mul(per, mask), -1), Tensor.fromArray(counts, [B]));   // (B)
    return mul(sum(rows), 1 / B);
  });
  return { loss, clipFrac, kl };
}
