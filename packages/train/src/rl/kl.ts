// KL estimators between the policy and a frozen reference from the log-probs of sampled tokens
// (Schulman, "Approximating KL Divergence"), and the fixed and adaptive KL-penalty coefficients of
// RLHF-PPO (Ziegler et al. 2019; TRL's AdaptiveKLController).
import { Tensor, affine, exp, mul, square, sub, tidy } from '@stellar/tensor';

/** k1 = log p - log q (unbiased, can be negative); k2 = (log p - log q)^2 / 2; k3 = (q/p) - 1 - log(q/p) (unbiased, >= 0). */
export type KlEstimator = 'k1' | 'k2' | 'k3';

/** Per-token KL(pi || ref) estimate from logp = log pi(a) and refLogp = log ref(a), any shape; differentiable in logp. */
export function klPerToken(logp: Tensor, refLogp: Tensor, kind: KlEstimator = 'k1'): Tensor {
  return tidy(() => {
    const d = sub(logp, refLogp);                         // log p - log q
    if (kind === 'k1') return d;
    if (kind === 'k2') return mul(square(d), 0.5);
    if (kind === 'k3') return sub(affine(exp(mul(d, -1)), 1, -1), mul(d, -1));   // e^{-d} - 1 + d
    throw new Error(`unknown KL estimator "${kind as string}"`);
  });
}

/** The same estimates on host numbers (rollout statistics and the per-token reward penalty). */
export function klHost(logp: number, refLogp: number, kind: KlEstimator = 'k1'): number {
  const d = logp - refLogp;
  if (kind === 'k1') return d;
  if (kind === 'k2') return 0.5 * d * d;
  if (kind === 'k3') return Math.expm1(-d) + d;
  throw new Error(`unknown KL estimator "${kind as string}"`);
}

export interface KlController {
  /** The current penalty coefficient. */
  readonly value: number;
  /** Called once per rollout batch with the measured KL (mean per sequence) and the samples it covered. */
  update(currentKl: number, nSteps: number): void;
  state(): { value: number };
  restore(s: unknown): void;
}

export class FixedKlController implements KlController {
  constructor(public value: number) {}
  update(): void {}
  state(): { value: number } { return { value: this.value }; }
  restore(s: unknown): void { this.value = (s as { value: number }).value; }
}

/**
 * Ziegler et al.: beta <- beta * (1 + clip(KL / target - 1, -0.2, 0.2) * nSteps / horizon), steering
 * the measured KL towards `target`.
 */
export class AdaptiveKlController implements KlController {
  constructor(public value: number, readonly target: number, readonly horizon: number) {
    if (!(target > 0) || !(horizon > 0)) throw new Error(`AdaptiveKlController: target and horizon must be > 0 (got ${target}, ${horizon})`);
  }
  update(currentKl: number, nSteps: number): void {
    const err = Math.min(0.2, Math.max(-0.2, currentKl / this.target - 1));
    this.value *= 1 + (err * nSteps) / this.horizon;
  }
  state(): { value: number } { return { value: this.value }; }
  restore(s: unknown): void {
    const v = (s as { value?: unknown })?.value;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error('AdaptiveKlController.restore: bad state');
    this.value = v;
  }
}
