// Index ops: indexSelect along an axis (embedding lookup) with scatter-add backward, indexAdd (its
// adjoint, e.g. MoE outputs summed back into token rows), gather along an axis (picking per-row
// entries, e.g. token log-probabilities) with its backward, and topk (host-side selection).
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1 } from '../op';
import { args } from '../args';
import { isIndex } from '../dtype';
import { normAxis, numel } from '../shape';
import { contiguous, copyInto } from './copy';
import { zeros } from './creation';
import { transpose, reshape } from './views';

interface IndexAttrs { axis: number }

function requireIds(ids: Tensor, what: string): void {
  if (!isIndex(ids.dtype)) throw new Error(`${what}: indices must be int32 or int64, got ${ids.dtype}`);
}

const indexSelectOp = defineOp<IndexAttrs>({
  name: 'index_select',
  outputs([x, ids], { axis }) {
    requireIds(ids, 'indexSelect');
    if (ids.ndim !== 1) throw new Error('indexSelect: indices must be 1-D');
    const shape = [...x.shape];
    shape[axis] = ids.shape[0];
    return [{ shape, dtype: x.dtype }];
  },
  save: { inputs: [1] },
  grad(ctx, [g]) {
    if (!g || !ctx.needsGrad[0]) return [null, null];
    const ids = ctx.saved[1]!;
    const { axis } = ctx.attrs;
    const shape = ctx.inputMeta[0].shape;
    const gx = zeros(shape, { device: g.device });
    const gc = contiguous(g);
    const outer = numel(shape.slice(0, axis)), inner = numel(shape.slice(axis + 1));
    args.begin().num(outer).num(shape[axis]).num(inner).tensor(gc).tensor(ids).tensor(gx).run(g.device, 'index_add');
    gc.dispose();
    return [gx, null];
  },
});
registerNative<IndexAttrs>('index_select', 'index_select', (dev, [x, ids], [y], { axis }) => {
  const c = contiguous(x);
  try {
    const outer = numel(x.shape.slice(0, axis)), inner = numel(x.shape.slice(axis + 1));
    args.begin().num(outer).num(x.shape[axis]).num(inner).tensor(c).tensor(ids).tensor(y).run(dev, 'index_select');
  } finally { c.dispose(); }
});

/** Rows (or slices along `axis`) of x picked by 1-D integer ids; negative ids count from the end. */
export function indexSelect(x: Tensor, axis: number, ids: Tensor): Tensor {
  return run1(indexSelectOp, [x, ids], { axis: normAxis(axis, x.ndim) });
}

/** Embedding lookup: weight (V, C), ids of any shape -> (...ids.shape, C). */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  if (weight.ndim !== 2) throw new Error('embedding: weight must be (vocab, dim)');
  const flat = ids.ndim === 1 ? ids.view(ids.shape) : reshape(ids, [ids.size]);
  const rows = indexSelect(weight, 0, flat);
  const out = reshape(rows, [...ids.shape, weight.shape[1]]);
  flat.dispose(); rows.dispose();
  return out;
}

const gatherOp = defineOp<Record<string, never>>({
  name: 'gather_last',
  outputs([x, ids]) {
    requireIds(ids, 'gather');
    if (x.dtype !== 'float32') throw new Error('gather: values must be float32');
    if (ids.ndim !== x.ndim || ids.shape.slice(0, -1).some((d, i) => d !== x.shape[i])) {
      throw new Error(`gather: index shape [${ids.shape.join(', ')}] must match [${x.shape.join(', ')}] except in the last dim`);
    }
    return [{ shape: [...ids.shape], dtype: 'float32' }];
  },
  save: { inputs: [1] },
  grad(ctx, [g]) {
    if (!g || !ctx.needsGrad[0]) return [null, null];
    const ids = ctx.saved[1]!;
    const gx = zeros(ctx.inputMeta[0].shape, { device: g.device });
    const gc = contiguous(g), ic = contiguous(ids);
    args.begin().tensor(gc).tensor(ic).tensor(gx).run(g.device, 'scatter_add_last');
    gc.dispose(); ic.dispose();
    return [gx, null];
  },
});
registerNative<Record<string, never>>('gather_last', 'gather_last', (dev, [x, ids], [y]) => {
  const xc = contiguous(x), ic = contiguous(ids);
  try { args.begin().tensor(xc).tensor(ic).tensor(y).run(dev, 'gather_last'); } finally { xc.dispose(); ic.dispose(); }
});

/** torch.gather: out[..., k] = x[..., ids[..., k]] along `axis` (ids has x's shape except on axis). */
export function gather(x: Tensor, axis: number, ids: Tensor): Tensor {
  const a = normAxis(axis, x.ndim);
  if (a === x.ndim - 1) return run1(gatherOp, [x, ids], {});
  const xt = transpose(x, a, -1), it = transpose(ids, a, -1);
  const y = run1(gatherOp, [xt, it], {});
  const r = transpose(y, a, -1);
  xt.dispose(); it.dispose(); y.dispose();
  return r;
}

const indexAddOp = defineOp<IndexAttrs>({
  name: 'index_add',
  outputs([x, ids, src], { axis }) {
    requireIds(ids, 'indexAdd');
    if (ids.ndim !== 1) throw new Error('indexAdd: indices must be 1-D');
    if (x.dtype !== 'float32' || src.dtype !== 'float32') throw new Error('indexAdd: values must be float32');
    const want = [...x.shape];
    want[axis] = ids.shape[0];
    if (src.ndim !== x.ndim || src.shape.some((d, i) => d !== want[i])) {
      throw new Error(`indexAdd: source [${src.shape.join(', ')}] must be [${want.join(', ')}]`);
    }
    return [{ shape: [...x.shape], dtype: 'float32' }];
  },
  save: { inputs: [1] },
  grad(ctx, [g]) {
    if (!g) return [null, null, null];
    const ids = ctx.saved[1]!;
    // d/dx is the identity; d/dsrc picks the rows each source row was added to
    const gx = ctx.needsGrad[0] ? g.view(g.shape) : null;
    const gs = ctx.needsGrad[2] ? indexSelect(g, ctx.attrs.axis, ids) : null;
    return [gx, null, gs];
  },
});
registerNative<IndexAttrs>('index_add', 'index_add', (dev, [x, ids, src], [y], { axis }) => {
  const sc = contiguous(src);
  try {
    copyInto(y, x);
    const outer = numel(x.shape.slice(0, axis)), inner = numel(x.shape.slice(axis + 1));
    args.begin().num(outer).num(x.shape[axis]).num(inner).tensor(sc).tensor(ids).tensor(y).run(dev, 'index_add');
  } finally { sc.dispose(); }
});

/**
 * torch.index_add (out of place): x with src's slices added at positions `ids` along `axis`;
 * repeated ids accumulate. Gradients flow to x (identity) and src (indexSelect of the gradient).
 */
export function indexAdd(x: Tensor, axis: number, ids: Tensor, src: Tensor): Tensor {
  return run1(indexAddOp, [x, ids, src], { axis: normAxis(axis, x.ndim) });
}

/**
 * The k largest entries along the last axis, in descending order (ties: lower index first), as
 * values (differentiable, through gather) and int32 indices. The selection runs on the host.
 */
export function topk(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  if (x.ndim < 1) throw new Error('topk: needs at least one dim');
  const n = x.shape[x.ndim - 1];
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`topk: k must be an integer in [1, ${n}], got ${k}`);
  const v = x.toFloat64();
  const rows = n ? v.length / n : 0;
  const idx = new Int32Array(rows * k);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    // NaN sorts first, as the largest value (torch.topk does the same)
    const key = (i: number): number => (Number.isNaN(v[base + i]) ? Infinity : v[base + i]);
    order.sort((a, b) => key(b) - key(a) || a - b);   // inf - inf is NaN, falsy: falls to the index
    for (let j = 0; j < k; j++) idx[r * k + j] = order[j];
    for (let i = 0; i < n; i++) order[i] = i;
  }
  const indices = Tensor.fromArray(idx, [...x.shape.slice(0, -1), k], { dtype: 'int32', device: x.device });
  return { values: gather(x, -1, indices), indices };
}
