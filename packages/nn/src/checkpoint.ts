// Gradient checkpointing: run a block without recording its graph, keep only its input, and
// recompute the block with the graph in backward (PyTorch's torch.utils.checkpoint, reentrant style).
// Randomness (dropout, drop-path, router noise) is replayed by restoring the generator state, and the
// recomputation runs under the autocast mode of the original forward.
import { Tensor, Generator, defineOp, registerKernel, runOp, copyInto, noGrad, enableGrad, mul, sum, add, tidy, keep, autocast, autocastDtype, type GeneratorState } from '@stellar/tensor';

type BlockFn = (x: Tensor, ...extras: Tensor[]) => Tensor[];

interface CkptAttrs {
  fn: BlockFn;
  /** How many inputs after x are extra (non-trainable) tensors fn reads; they are saved with the node. */
  numExtras: number;
  /** Outputs computed without a graph; the kernel hands them over. */
  precomputed: Tensor[];
  generator: Generator;
  state: GeneratorState;
  /** Autocast mode of the forward: backward runs outside the caller's scope, the recompute must match. */
  autocast: 'bfloat16' | null;
}

const checkpointOp = defineOp<CkptAttrs>({
  name: 'nn_checkpoint',
  outputs(_inputs, a) { return a.precomputed.map((t) => ({ shape: [...t.shape], dtype: t.dtype })); },
  save: { inputs: [0, 1, 2, 3, 4, 5, 6, 7] },
  grad(ctx, gouts) {
    const x = ctx.saved[0]!;
    const { fn, generator, state, numExtras } = ctx.attrs;
    const extras = ctx.saved.slice(1, 1 + numExtras) as Tensor[];
    const now = generator.getState();
    generator.setState(state);   // the recomputation draws the same dropout masks
    const xr = x.detach().requiresGrad_();
    try {
      enableGrad(() => tidy(() => {
        // only the recompute is autocast; its backward below runs each op in the mode it recorded
        const ys = autocast(ctx.attrs.autocast, () => fn(xr, ...extras));
        const live = ys.map((y, i) => [y, gouts[i]] as const).filter(([y, g]) => g && y.requiresGrad);
        if (live.length === 0) return;
        if (live.length === 1 && live[0][0].shapeEquals(live[0][1]!.shape)) { live[0][0].backward(live[0][1]!); return; }
        // several outputs: one scalar whose gradient w.r.t. each output is that output's incoming gradient
        let s: Tensor | null = null;
        for (const [y, g] of live) { const t = sum(mul(y, g!)); s = s ? add(s, t) : t; }
        s!.backward();
      }));
    } finally {
      generator.setState(now);
    }
    // parameters received their gradients from the inner backward; only x's is returned
    const dx = xr.grad ? keep(xr.grad) : null;
    xr.grad = null;
    xr.dispose();
    return [dx, ...new Array<Tensor | null>(ctx.inputMeta.length - 1).fill(null)];
  },
});

const handOver = (_inputs: Tensor[], outs: Tensor[], a: CkptAttrs) => {
  outs.forEach((o, i) => copyInto(o, a.precomputed[i]));
  for (const t of a.precomputed) t.dispose();
};
registerKernel<CkptAttrs>('nn_checkpoint', 'cpu', handOver);
registerKernel<CkptAttrs>('nn_checkpoint', 'cuda', handOver);

/**
 * Runs fn(x, ...extras) -> outputs without storing its activations; backward recomputes it. `extras`
 * are other tensors fn reads (positions, masks: kept alive by the node, never differentiated; at most 7);
 * `params` are the trainable tensors fn reads (they make the node record even when x needs no gradient).
 */
export function checkpoint(fn: BlockFn, x: Tensor, extras: Tensor[], params: Tensor[], generator: Generator): Tensor[] {
  if (extras.length > 7) throw new Error('checkpoint: at most 7 extra tensors');
  const state = generator.getState();
  const precomputed = noGrad(() => fn(x, ...extras)).map((t) => keep(t));
  return runOp(checkpointOp, [x, ...extras, ...params.filter((p) => p.requiresGrad)], { fn, numExtras: extras.length, precomputed, generator, state, autocast: autocastDtype() });
}
