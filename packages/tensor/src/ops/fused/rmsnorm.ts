// Fused RMSNorm (LLaMA / HF LlamaRMSNorm semantics, fp32): one native pass forward that saves the
// per-row 1/rms, one native pass backward giving dx and a deterministically reduced dweight.
import { Tensor } from '../../tensor';
import { defineOp, registerNative, run1 } from '../../op';
import { args } from '../../args';
import { contiguous } from '../copy';

// contiguous() of a contiguous tensor returns a new view object; skip it on the hot path
const dense = (t: Tensor): Tensor => (t.isContiguous ? t : contiguous(t));
const release = (t: Tensor, orig: Tensor): void => { if (t !== orig) t.dispose(); };

interface RmsNormAttrs { eps: number }

const rmsNormOp = defineOp<RmsNormAttrs>({
  name: 'fused_rmsnorm',
  outputs([x, w]) {
    if (x.dtype !== 'float32' || w.dtype !== 'float32') throw new Error(`rmsNorm: expected float32 x and weight, got ${x.dtype} and ${w.dtype}`);
    if (x.ndim === 0) throw new Error('rmsNorm: x must have at least one dim');
    const C = x.shape[x.ndim - 1];
    if (w.ndim !== 1 || w.shape[0] !== C) throw new Error(`rmsNorm: weight shape [${w.shape.join(', ')}] must be [${C}] (the last dim of x)`);
    return [{ shape: [...x.shape], dtype: 'float32' }];
  },
  save: { inputs: [0, 1] },
  grad(ctx, [g]) {
    if (!g) return [null, null];
    const x = ctx.saved[0]!, w = ctx.saved[1]!;
    const rstd = ctx.extra![0];                                // (rows)
    const xc = dense(x), wc = dense(w), gc = dense(g);
    const dx = Tensor.empty(x.shape, { device: x.device });   // (..., C)
    const dw = Tensor.empty(w.shape, { device: w.device });   // (C)
    try {
      args.begin().tensor(xc).tensor(wc).tensor(rstd).tensor(gc).tensor(dx).tensor(dw).run(x.device, 'fused_rmsnorm_backward');
    } catch (e) { dx.dispose(); dw.dispose(); throw e; } finally { release(xc, x); release(wc, w); release(gc, g); }
    if (!ctx.needsGrad[0]) dx.dispose();
    if (!ctx.needsGrad[1]) dw.dispose();
    return [ctx.needsGrad[0] ? dx : null, ctx.needsGrad[1] ? dw : null];
  },
});
registerNative<RmsNormAttrs>('fused_rmsnorm', 'fused_rmsnorm', (dev, [x, w], [y], { eps }) => {
  const C = x.shape[x.ndim - 1];
  const rstd = Tensor.empty([C ? x.size / C : 0], { device: dev });   // (rows)
  const xc = dense(x), wc = dense(w);
  try {
    args.begin().num(eps).tensor(xc).tensor(wc).tensor(y).tensor(rstd).run(dev, 'fused_rmsnorm');
  } catch (e) { rstd.dispose(); throw e; } finally { release(xc, x); release(wc, w); }
  return [rstd];
});

/** y = x / sqrt(mean(x^2, -1) + eps) * weight; x (..., C), weight (C). */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  return run1(rmsNormOp, [x, weight], { eps });
}
