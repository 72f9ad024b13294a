// Index ops: indexSelect along an axis (embedding lookup) with scatter-add backward, and gather
// along an axis (picking per-row entries, e.g. token log-probabilities) with its backward.
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1 } from '../op';
import { args } from '../args';
import { isIndex } from '../dtype';
import { normAxis, numel } from '../shape';
import { contiguous } from './copy';
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
