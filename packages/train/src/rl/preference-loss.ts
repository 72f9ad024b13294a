// Pairwise preference losses on per-pair scores: the Bradley–Terry reward-model loss (with TRL's
// margin and reward-centering term) and DPO in its sigmoid (with conservative label smoothing) and
// IPO forms, with the statistics TRL logs (implicit rewards, margins, accuracy).
import { Tensor, add, mean, mul, neg, square, sub, tidy } from '@stellar/tensor';
import { logSigmoid } from './logprobs';

export interface PairStats {
  /** Fraction of pairs whose chosen score is above the rejected one. */
  accuracy: number;
  /** Mean of chosen - rejected scores. */
  margin: number;
  chosen: number;    // mean chosen score
  rejected: number;  // mean rejected score
}

function pairStats(c: Float64Array, r: Float64Array): PairStats {
  let acc = 0, m = 0, sc = 0, sr = 0;
  for (let i = 0; i < c.length; i++) { acc += c[i] > r[i] ? 1 : 0; m += c[i] - r[i]; sc += c[i]; sr += r[i]; }
  const n = Math.max(1, c.length);
  return { accuracy: acc / n, margin: m / n, chosen: sc / n, rejected: sr / n };
}

export interface BradleyTerryOptions {
  /** Per-pair margin (P) or one number: the loss is -logsigmoid(r_c - r_r - margin). */
  margin?: Tensor | number;
  /** TRL's center_rewards_coefficient: adds coef * mean((r_c + r_r)^2) to keep rewards centred. */
  centerCoef?: number;
}

/**
 * Bradley–Terry pairwise loss: mean_p -logsigmoid(r_c - r_r - margin) + coef * mean_p (r_c + r_r)^2,
 * rChosen/rRejected (P). As TRL's RewardTrainer.compute_loss.
 */
export function bradleyTerryLoss(rChosen: Tensor, rRejected: Tensor, o: BradleyTerryOptions = {}): { loss: Tensor; stats: PairStats } {
  const stats = pairStats(rChosen.toFloat64(), rRejected.toFloat64());
  const loss = tidy(() => {
    let d = sub(rChosen, rRejected);                                        // (P)
    if (o.margin !== undefined) d = typeof o.margin === 'number' ? (o.margin === 0 ? d : add(d, -o.margin)) : sub(d, o.margin);
    let l = neg(mean(logSigmoid(d)));
    if (o.centerCoef) l = add(l, mul(mean(square(add(rChosen, rRejected))), o.centerCoef));
    return l;
  });
  return { loss, stats };
}

export type DpoLossType = 'sigmoid' | 'ipo';

export interface DpoPairOptions {
  /** Inverse temperature of the implicit reward (sigmoid) or the IPO regulariser tau (default 0.1). */
  beta?: number;
  lossType?: DpoLossType;
  /** Conservative DPO (Mitchell 2023): the preference label is flipped with this probability (sigmoid only, default 0). */
  labelSmoothing?: number;
  /** Completion tokens per pair (P), chosen and rejected: IPO averages the log-ratios per token as TRL does. */
  chosenTokens?: ArrayLike<number>;
  rejectedTokens?: ArrayLike<number>;
}

export interface DpoPairResult {
  loss: Tensor;
  /** beta * (logp - ref_logp) per pair (P): the implicit rewards TRL logs. */
  chosenRewards: Float64Array;
  rejectedRewards: Float64Array;
  stats: PairStats;
}

/**
 * DPO on sequence log-probs (P) of the policy and the reference for the chosen and rejected answers.
 * With d = (logp_c - ref_c) - (logp_r - ref_r):
 *   sigmoid: -(1 - eps) logsigmoid(beta d) - eps logsigmoid(-beta d)        (eps = labelSmoothing)
 *   ipo:     (d' - 1 / (2 beta))^2, d' = the same difference of per-token-averaged log-ratios
 * averaged over pairs. The reference log-probs carry no gradient.
 */
export function dpoPairLoss(policyChosen: Tensor, policyRejected: Tensor, refChosen: Tensor, refRejected: Tensor, o: DpoPairOptions = {}): DpoPairResult {
  const beta = o.beta ?? 0.1, type = o.lossType ?? 'sigmoid', eps = o.labelSmoothing ?? 0;
  if (!(beta > 0)) throw new Error(`dpo: beta must be > 0, got ${beta}`);
  if (!(eps >= 0 && eps < 0.5)) throw new Error(`dpo: labelSmoothing must be in [0, 0.5), got ${eps}`);
  if (type !== 'sigmoid' && type !== 'ipo') throw new Error(`dpo: unknown lossType "${type as string}"`);
  const pc = policyChosen.toFloat64(), pr = policyRejected.toFloat64(), rc = refChosen.toFloat64(), rr = refRejected.toFloat64();
  const P = pc.length;
  const chosenRewards = new Float64Array(P), rejectedRewards = new Float64Array(P);
  for (let i = 0; i < P; i++) { chosenRewards[i] = beta * (pc[i] - rc[i]); rejectedRewards[i] = beta * (pr[i] - rr[i]); }
  const loss = tidy(() => {
    const cr = sub(policyChosen, refChosen), rj = sub(policyRejected, refRejected);   // (P) log-ratios
    if (type === 'sigmoid') {
      const z = mul(sub(cr, rj), beta);                                                   // (P)
      let l = mul(logSigmoid(z), -(1 - eps));
      if (eps > 0) l = sub(l, mul(logSigmoid(neg(z)), eps));
      return mean(l);
    }
    if (!o.chosenTokens || !o.rejectedTokens) throw new Error('dpo: the ipo loss needs chosenTokens and rejectedTokens (per-pair completion lengths)');
    const inv = (n: ArrayLike<number>) => Tensor.fromArray(Float32Array.from({ length: P }, (_, i) => 1 / Math.max(1, n[i])), [P]);
    const d = sub(mul(cr, inv(o.chosenTokens)), mul(rj, inv(o.rejectedTokens)));        // (P)
    return mean(square(add(d, -1 / (2 * beta))));
  });
  return { loss, chosenRewards, rejectedRewards, stats: pairStats(chosenRewards, rejectedRewards) };
}
