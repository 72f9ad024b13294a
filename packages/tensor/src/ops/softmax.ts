// Softmax and log-softmax along any axis (kernels work on contiguous last-dim rows).
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1 } from '../op';
import { args } from '../args';
import { normAxis } from '../shape';
import { transpose } from './views';
import { contiguous } from './copy';

interface SoftmaxAttrs { log: boolean }

const softmaxOp = defineOp<SoftmaxAttrs>({
  name: 'softmax_lastdim',
  outputs([x]) {
    if (x.dtype !== 'float32') throw new Error(`softmax: expected float32, got ${x.dtype}`);
    return [{ shape: [...x.shape], dtype: 'float32' }];
  },
  save: { outputs: [0] },
  grad(ctx, [g]) {
    if (!g) return [null];
    const y = ctx.saved[1]!;
    const gc = contiguous(g);
    const gx = Tensor.empty(y.shape, { device: y.device });
    args.begin().bool(ctx.attrs.log).tensor(y).tensor(gc).tensor(gx).run(y.device, 'softmax_backward');
    gc.dispose();
    return [gx];
  },
});
registerNative<SoftmaxAttrs>('softmax_lastdim', 'softmax', (dev, [x], [y], { log }) => {
  const c = contiguous(x);
  try { if (x.size > 0) args.begin().bool(log).tensor(c).tensor(y).run(dev, 'softmax'); } finally { c.dispose(); }
});

function along(x: Tensor, axis: number, log: boolean): Tensor {
  if (x.ndim === 0) throw new Error('softmax of a scalar');
  const a = normAxis(axis, x.ndim);
  if (a === x.ndim - 1) return run1(softmaxOp, [x], { log });
  const t = transpose(x, a, -1);
  const y = run1(softmaxOp, [t], { log });
  const r = transpose(y, a, -1);
  t.dispose(); y.dispose();
  return r;
}

export const softmax = (x: Tensor, axis = -1): Tensor => along(x, axis, false);
export const logSoftmax = (x: Tensor, axis = -1): Tensor => along(x, axis, true);
