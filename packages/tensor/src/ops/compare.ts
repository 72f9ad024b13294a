// Comparisons (bool outputs, no gradient) and where(cond, a, b) with its gradient.
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1 } from '../op';
import { args } from '../args';
import { CompareOp, type CompareName } from './codes';
import { broadcastShapes, broadcastStrides } from '../shape';
import { full, zerosLike } from './creation';
import { sumTo } from './binary';

const compareOp = defineOp<{ code: number }>({
  name: 'compare',
  outputs([a, b]) {
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error('comparisons take float32 tensors (cast first)');
    return [{ shape: broadcastShapes(a.shape, b.shape), dtype: 'bool' }];
  },
});
registerNative<{ code: number }>('compare', 'compare', (dev, [a, b], [y], { code }) => {
  args.begin().num(code)
    .view(a, y.shape, broadcastStrides(a.shape, a.strides, y.shape), a.offset)
    .view(b, y.shape, broadcastStrides(b.shape, b.strides, y.shape), b.offset)
    .tensor(y).run(dev, 'compare');
});

export function compare(name: CompareName, a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') {
    const s = full([], b, { device: a.device });
    try { return run1(compareOp, [a, s], { code: CompareOp[name] }); } finally { s.dispose(); }
  }
  return run1(compareOp, [a, b], { code: CompareOp[name] });
}
export const eq = (a: Tensor, b: Tensor | number): Tensor => compare('eq', a, b);
export const ne = (a: Tensor, b: Tensor | number): Tensor => compare('ne', a, b);
export const lt = (a: Tensor, b: Tensor | number): Tensor => compare('lt', a, b);
export const le = (a: Tensor, b: Tensor | number): Tensor => compare('le', a, b);
export const gt = (a: Tensor, b: Tensor | number): Tensor => compare('gt', a, b);
export const ge = (a: Tensor, b: Tensor | number): Tensor => compare('ge', a, b);

const whereOp = defineOp<Record<string, never>>({
  name: 'where',
  outputs([c, a, b]) {
    if (c.dtype !== 'bool') throw new Error(`where: condition must be bool, got ${c.dtype}`);
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error('where: values must be float32');
    return [{ shape: broadcastShapes(c.shape, a.shape, b.shape), dtype: 'float32' }];
  },
  save: { inputs: [0] },
  grad(ctx, [g]) {
    if (!g) return [null, null, null];
    const c = ctx.saved[0]!;
    const z = zerosLike(g);
    const out: (Tensor | null)[] = [null, null, null];
    if (ctx.needsGrad[1]) { const t = run1(whereOp, [c, g, z], {}); out[1] = sumTo(t, ctx.inputMeta[1].shape); t.dispose(); }
    if (ctx.needsGrad[2]) { const t = run1(whereOp, [c, z, g], {}); out[2] = sumTo(t, ctx.inputMeta[2].shape); t.dispose(); }
    z.dispose();
    return out;
  },
});
registerNative<Record<string, never>>('where', 'where', (dev, [c, a, b], [y]) => {
  const bs = (t: Tensor) => broadcastStrides(t.shape, t.strides, y.shape);
  args.begin().view(c, y.shape, bs(c), c.offset).view(a, y.shape, bs(a), a.offset).view(b, y.shape, bs(b), b.offset).tensor(y).run(dev, 'where');
});

/** Elementwise select: cond ? a : b (scalars allowed for a or b). */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const dev = cond.device;
  const ta = typeof a === 'number' ? full([], a, { device: dev }) : a;
  const tb = typeof b === 'number' ? full([], b, { device: dev }) : b;
  try {
    return run1(whereOp, [cond, ta, tb], {});
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}
