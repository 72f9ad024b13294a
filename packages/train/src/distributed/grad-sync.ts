// Gradient and weight synchronisation for data parallelism: one bucketed allreduce of every
// gradient, the float64 sums the trainer needs (token counts, loss), and the start-of-run broadcast.
import { keep, zerosLike, type Tensor } from '@stellar/tensor';
import type { Module, Parameter } from '@stellar/nn';
import type { DistributedContext } from './context';
import { allreduceSumF64, allreduceSumTensors, broadcastTensors } from './mpi';

/**
 * Sums every parameter's gradient over ranks in place, times `scale` (default 1: the trainer already
 * divides each rank's loss by the global target-token count, so the sum is the global-batch gradient).
 * Every rank must pass the same parameters in the same order; a missing gradient (a parameter no
 * token reached on this rank) takes part as zeros so the ranks' buffers line up.
 */
export function allReduceGradients(params: Parameter[], ctx: DistributedContext, scale = 1): void {
  if (ctx.worldSize === 1 && scale === 1) return;
  const grads: Tensor[] = [];
  for (const p of params) {
    if (!p.data.grad) p.data.grad = keep(zerosLike(p.data));
    const g = p.data.grad;
    if (g.dtype !== 'float32') throw new Error(`allReduceGradients: float32 gradients only (a ${p.shape.join('x')} parameter has a ${g.dtype} gradient)`);
    grads.push(g);
  }
  allreduceSumTensors(grads, scale);
}

/** Elementwise float64 sums over ranks (the identity in a world of size 1). */
export function sumOverRanks(values: number[], ctx: DistributedContext): number[] {
  return ctx.worldSize === 1 ? [...values] : Array.from(allreduceSumF64(values));
}

/** Copies rank 0's weights to every rank, so ranks start identical whatever their seeds. */
export function broadcastParameters(model: Module, ctx: DistributedContext): void {
  if (ctx.worldSize === 1) return;
  broadcastTensors(model.parameters().map((p) => p.data), 0);
}

/** What the Trainer's `sync` option needs: sums across ranks, and who writes checkpoints and logs. */
export interface TrainerSync {
  readonly worldSize: number;
  readonly isMain: boolean;
  /** Elementwise sums over ranks of per-rank numbers (target tokens, loss sums, metrics). */
  sum(values: number[]): number[];
  /** Sums the gradients over ranks in place (called after backward, before clipping). */
  allReduceGradients(params: Parameter[]): void;
}

/** The Trainer hook for a data-parallel run over `ctx`. */
export function trainerSync(ctx: DistributedContext): TrainerSync {
  return {
    worldSize: ctx.worldSize,
    isMain: ctx.isMain,
    sum: (v) => sumOverRanks(v, ctx),
    allReduceGradients: (ps) => allReduceGradients(ps, ctx),
  };
}
