// View ops: new shape/strides/offset over the same storage, no copy (reshape copies only when the
// layout makes a view impossible). Each has its gradient.
import { Tensor } from '../tensor';
import { defineOp, run1 } from '../op';
import { inferShape, viewStrides, normAxis, numel, contiguousStrides } from '../shape';
import { contiguous } from './copy';
import { zeros, fill_ } from './creation';
import { sumTo } from './binary';

interface ViewAttrs { shape: number[] }
const viewOp = defineOp<ViewAttrs>({
  name: 'view',
  outputs: () => [],
  view(x, { shape }) {
    const st = viewStrides(x.shape, x.strides, shape);
    if (!st) throw new Error(`view: a tensor of shape [${x.shape.join(', ')}] with strides [${x.strides.join(', ')}] cannot be viewed as [${shape.join(', ')}]; use reshape()`);
    return { shape, strides: st, offset: x.offset };
  },
  grad(ctx, [g]) { return [g ? reshape(g, ctx.inputMeta[0].shape) : null]; },
});

/** A view with a new shape (one dim may be -1); throws if the strides do not allow it. */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  return run1(viewOp, [x], { shape: inferShape(shape, x.size) });
}

/** Like view(), but copies when the layout does not allow a view. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape(shape, x.size);
  if (viewStrides(x.shape, x.strides, target)) return run1(viewOp, [x], { shape: target });
  const c = contiguous(x);
  try { return run1(viewOp, [c], { shape: target }); } finally { c.dispose(); }
}

interface PermuteAttrs { axes: number[] }
const permuteOp = defineOp<PermuteAttrs>({
  name: 'permute',
  outputs: () => [],
  view(x, { axes }) {
    return { shape: axes.map((a) => x.shape[a]), strides: axes.map((a) => x.strides[a]), offset: x.offset };
  },
  grad(ctx, [g]) {
    if (!g) return [null];
    const inv = new Array<number>(ctx.attrs.axes.length);
    ctx.attrs.axes.forEach((a, i) => { inv[a] = i; });
    return [permute(g, inv)];
  },
});

export function permute(x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length !== x.ndim) throw new Error(`permute: ${axes.length} axes given for a tensor of rank ${x.ndim}`);
  const norm = axes.map((a) => normAxis(a, x.ndim));
  if (new Set(norm).size !== norm.length) throw new Error(`permute: repeated axis in [${axes.join(', ')}]`);
  return run1(permuteOp, [x], { axes: norm });
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const axes = Array.from({ length: x.ndim }, (_, i) => i);
  const i = normAxis(a, x.ndim), j = normAxis(b, x.ndim);
  [axes[i], axes[j]] = [axes[j], axes[i]];
  return permute(x, axes);
}

interface ExpandAttrs { shape: number[] }
const expandOp = defineOp<ExpandAttrs>({
  name: 'expand',
  outputs: () => [],
  view(x, { shape }) {
    const lead = shape.length - x.ndim;
    if (lead < 0) throw new Error(`expand: cannot expand [${x.shape.join(', ')}] to fewer dims [${shape.join(', ')}]`);
    const strides = shape.map((d, i) => {
      if (i < lead) return 0;
      const s = x.shape[i - lead];
      if (s === d) return x.strides[i - lead];
      if (s === 1) return 0;
      throw new Error(`expand: cannot expand [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
    });
    return { shape, strides, offset: x.offset };
  },
  grad(ctx, [g]) { return [g ? sumTo(g, ctx.inputMeta[0].shape) : null]; },
});

/** Broadcast view (stride 0 on expanded dims); -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.ndim;
  const s = shape.map((d, i) => (d === -1 ? x.shape[i - lead] : d));
  return run1(expandOp, [x], { shape: s });
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return view(x, x.shape.filter((d) => d !== 1));
  const a = normAxis(axis, x.ndim);
  if (x.shape[a] !== 1) return view(x, x.shape);
  return view(x, x.shape.filter((_, i) => i !== a));
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.ndim + 1 : axis;
  if (a < 0 || a > x.ndim) throw new Error(`unsqueeze: axis ${axis} out of range for rank ${x.ndim}`);
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return view(x, s);
}

interface SliceAttrs { axis: number; start: number; end: number; step: number }
const sliceOp = defineOp<SliceAttrs>({
  name: 'slice',
  outputs: () => [],
  view(x, { axis, start, end, step }) {
    const shape = [...x.shape];
    const strides = [...x.strides];
    shape[axis] = Math.max(0, Math.ceil((end - start) / step));
    strides[axis] = x.strides[axis] * step;
    return { shape, strides, offset: x.offset + start * x.strides[axis] };
  },
  grad(ctx, [g]) {
    if (!g) return [null];
    const { axis, start, end, step } = ctx.attrs;
    const shape = ctx.inputMeta[0].shape;
    if (step !== 1) {
      const gz = zeros(shape, { device: g.device });
      const dst = slice(gz, axis, start, end, step);
      copyInto(dst, g);
      dst.dispose();
      return [gz];
    }
    // contiguous range: write g into it and zero only the parts before and after (the slice of the
    // logits for the loss makes this a full (B, T, V) gradient, worth not writing twice)
    const gx = Tensor.empty(shape, { device: g.device });
    for (const [s0, e0] of [[0, start], [end, shape[axis]]]) {
      if (e0 <= s0) continue;
      const part = slice(gx, axis, s0, e0);
      fill_(part, 0);
      part.dispose();
    }
    const dst = slice(gx, axis, start, end);
    copyInto(dst, g);
    dst.dispose();
    return [gx];
  },
});

/** Python-style slice along one axis (negative indices count from the end; positive steps). */
export function slice(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const a = normAxis(axis, x.ndim);
  const n = x.shape[a];
  if (!Number.isInteger(step) || step <= 0) throw new Error('slice: step must be a positive integer');
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = clamp(start);
  const e = Math.max(s, end === undefined ? n : clamp(end));
  return run1(sliceOp, [x], { axis: a, start: s, end: e, step });
}

export const narrow = (x: Tensor, axis: number, start: number, length: number): Tensor => slice(x, axis, start, start + length);

// imported late to avoid a cycle at module load
import { copyInto } from './copy';
export { numel, contiguousStrides };
