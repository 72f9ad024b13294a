// Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_): the L2 norm over every gradient,
// and all gradients scaled by maxNorm / (norm + 1e-6) when it exceeds maxNorm.
import { Tensor, copyInto, mul, noGrad, square, sum, tidy } from '@stellar/tensor';
import type { Parameter } from '@stellar/nn';

/** The global L2 norm of the gradients (float64 accumulation over per-tensor float32 sums). */
export function gradNorm(params: Iterable<Parameter>): number {
  let total = 0;
  for (const p of params) if (p.grad) total += tidy(() => sum(square(p.grad!)).item());
  return Math.sqrt(total);
}

/** Clips in place; returns the norm before clipping (NaN/Inf are returned, grads left alone, for the NaN guard). */
export function clipGradNorm(params: Iterable<Parameter>, maxNorm: number): number {
  const ps = [...params];
  const norm = gradNorm(ps);
  if (!Number.isFinite(norm) || !(maxNorm > 0) || norm <= maxNorm) return norm;
  const scale = maxNorm / (norm + 1e-6);
  noGrad(() => { for (const p of ps) if (p.grad) tidy(() => copyInto(p.grad as Tensor, mul(p.grad!, scale))); });
  return norm;
}
