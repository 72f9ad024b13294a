// Ops that move data: contiguous copies, dtype casts, concat/split, copying into views, device moves.
import { Tensor } from '../tensor';
import { defineOp, registerKernel, registerNative, run1, type OpDef } from '../op';
import { native, buildInfo } from '@stellar/native';
import { args } from '../args';
import { isFloat, type DType } from '../dtype';
import type { Device } from '../device';
import { normAxis, shapesEqual } from '../shape';
import { slice } from './views';

const copyOp: OpDef<{ dtype: DType }> = defineOp<{ dtype: DType }>({
  name: 'copy',
  outputs([x], { dtype }) { return [{ shape: [...x.shape], dtype }]; },
  grad(ctx, [g]) {
    if (!g) return [null];
    const inDtype = ctx.inputMeta[0].dtype;
    if (!isFloat(inDtype)) return [null];
    // a same-dtype copy passes its gradient through unchanged: a new reference, not another copy
    return [g.dtype === inDtype ? g.view(g.shape) : run1(copyOp, [g], { dtype: inDtype })];
  },
});
registerNative<{ dtype: DType }>('copy', 'copy', (dev, [x], [y]) => {
  if (x.size > 0) args.begin().tensor(x).tensor(y).run(dev, 'copy');
});

/** Always a fresh contiguous copy. */
export const contiguousCopy = (x: Tensor): Tensor => run1(copyOp, [x], { dtype: x.dtype });

/** x itself (as a new view object) when already contiguous, else a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  return x.isContiguous ? x.view(x.shape) : contiguousCopy(x);
}

/**
 * Converts dtype (f32 <-> bf16 <-> f16, ints, bool, int8); differentiable between float types.
 * To int8: truncation toward zero (as PyTorch), saturating outside [-128, 127] (PyTorch wraps), NaN -> 0.
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x.view(x.shape) : run1(copyOp, [x], { dtype });
}

/** Writes src (broadcast to dst's shape) into the view dst, in place and outside autograd. */
export function copyInto(dst: Tensor, src: Tensor): void {
  if (dst.requiresGrad && !dst.isLeaf) throw new Error('copyInto: destination is part of a graph');
  if (!shapesEqual(dst.shape, src.shape)) {
    const e = src.expand(dst.shape);
    try { copyInto(dst, e); } finally { e.dispose(); }
    return;
  }
  if (dst.size > 0) args.begin().tensor(src).tensor(dst).run(dst.device, 'copy');
}

const concatOp = defineOp<{ axis: number }>({
  name: 'concat',
  outputs(xs, { axis }) {
    if (xs.length === 0) throw new Error('concat: no tensors');
    const ref = xs[0];
    const shape = [...ref.shape];
    shape[axis] = 0;
    for (const t of xs) {
      if (t.ndim !== ref.ndim || t.dtype !== ref.dtype || t.shape.some((d, i) => i !== axis && d !== ref.shape[i])) {
        throw new Error(`concat: shapes [${ref.shape.join(', ')}] and [${t.shape.join(', ')}] (${t.dtype}) do not match outside axis ${axis}`);
      }
      shape[axis] += t.shape[axis];
    }
    return [{ shape, dtype: ref.dtype }];
  },
  grad(ctx, [g]) {
    if (!g) return ctx.inputMeta.map(() => null);
    let off = 0;
    return ctx.inputMeta.map((m, i) => {
      const n = m.shape[ctx.attrs.axis];
      const s = ctx.needsGrad[i] ? contiguous(slice(g, ctx.attrs.axis, off, off + n)) : null;
      off += n;
      return s;
    });
  },
});
registerNative<{ axis: number }>('concat', 'copy', (dev, xs, [y], { axis }) => {
  let off = 0;
  for (const x of xs) {
    const n = x.shape[axis];
    if (x.size > 0) {
      const strides = y.strides;
      args.begin().tensor(x).view(y, x.shape, strides, y.offset + off * strides[axis]).run(dev, 'copy');
    }
    off += n;
  }
});

export function concat(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  return run1(concatOp, xs, { axis: normAxis(axis, xs[0].ndim) });
}

/** Splits along an axis into views of the given sizes (or equal chunks of `size`). */
export function split(x: Tensor, sizes: number | number[], axis = 0): Tensor[] {
  const a = normAxis(axis, x.ndim);
  const n = x.shape[a];
  const list = typeof sizes === 'number' ? Array.from({ length: Math.ceil(n / sizes) }, (_, i) => Math.min(sizes, n - i * sizes)) : sizes;
  if (list.reduce((s, v) => s + v, 0) !== n) throw new Error(`split: sizes [${list.join(', ')}] do not add up to ${n}`);
  let off = 0;
  return list.map((k) => { const v = slice(x, a, off, off + k); off += k; return v; });
}

const toDeviceOp = defineOp<{ device: Device }>({
  name: 'to_device',
  outputs: ([x]) => [{ shape: [...x.shape], dtype: x.dtype }],
  outputDevice: (_inputs, { device }) => device,
  grad(ctx, [g]) { return [g ? toDevice(g, ctx.attrs.device === 'cpu' ? 'cuda' : 'cpu') : null]; },
});
// Cross-device copies go through host memory; the kernel is registered on the source device.
for (const dev of (buildInfo().cudaCompiled ? ['cpu', 'cuda'] : ['cpu']) as Device[]) {
  registerKernel<{ device: Device }>('to_device', dev, ([x], [y]) => {
    const c = contiguous(x);
    try { if (c.size > 0) native.write(y.storage.handle, 0, c.data()); } finally { c.dispose(); }
  });
}

/** Moves a tensor to another device (CPU <-> CUDA); differentiable. */
export function toDevice(x: Tensor, device: Device): Tensor {
  if (x.device === device) return x.view(x.shape);
  return run1(toDeviceOp, [x], { device });
}
