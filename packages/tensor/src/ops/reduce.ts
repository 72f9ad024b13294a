// Reductions over any set of axes (sum, mean, max, min, logsumexp) and argmax/argmin over one axis.
// The input is permuted (a free view) so reduced axes come last; the kernel writes the kept shape.
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1 } from '../op';
import { args } from '../args';
import { ReduceOp, type ReduceName } from './codes';
import { normAxes, normAxis } from '../shape';
import { reshape, expand } from './views';
import { exp } from './unary';
import { sub, mul, div } from './binary';
import { eq } from './compare';
import { cast } from './copy';

interface ReduceAttrs { code: number; axes: number[]; keepdim: boolean }

function outShape(x: Tensor, axes: number[], keepdim: boolean): number[] {
  return keepdim ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
}

/** g reshaped to keepdim form and broadcast back to the input shape (a view). */
function expandBack(g: Tensor, inShape: number[], axes: number[]): Tensor {
  const kd = reshape(g, inShape.map((d, i) => (axes.includes(i) ? 1 : d)));
  const e = expand(kd, inShape);
  kd.dispose();
  return e;
}

function reduceGrad(name: ReduceName) {
  return (ctx: { attrs: ReduceAttrs; saved: (Tensor | null)[]; inputMeta: { shape: number[] }[] }, [g]: (Tensor | null)[]): (Tensor | null)[] => {
    if (!g) return [null];
    const inShape = ctx.inputMeta[0].shape;
    const { axes } = ctx.attrs;
    const ge = expandBack(g, inShape, axes);
    if (name === 'sum') return [ge];
    if (name === 'mean') {
      const n = axes.reduce((p, a) => p * inShape[a], 1);
      const r = ge.mul(1 / n); ge.dispose(); return [r];
    }
    const x = ctx.saved[0]!;
    const ye = expandBack(ctx.saved[1]!, inShape, axes);
    if (name === 'logsumexp') {
      const d = sub(x, ye); const p = exp(d); const r = mul(ge, p);
      for (const t of [d, p, ge, ye]) t.dispose();
      return [r];
    }
    // max / min: the gradient is shared equally among tied extremes (like torch.amax)
    const m = eq(x, ye);
    const mf = cast(m, 'float32');
    const cnt = sum(mf, axes, true);
    const share = div(mf, cnt);
    const r = mul(ge, share);
    for (const t of [m, mf, cnt, share, ge, ye]) t.dispose();
    return [r];
  };
}

const defs = new Map<ReduceName, ReturnType<typeof defineOp<ReduceAttrs>>>();
for (const name of ['sum', 'mean', 'max', 'min', 'logsumexp', 'argmax', 'argmin'] as ReduceName[]) {
  const arg = name === 'argmax' || name === 'argmin';
  const saves = name === 'sum' || name === 'mean' ? {} : { inputs: [0], outputs: [0] };
  defs.set(name, defineOp<ReduceAttrs>({
    name,
    outputs([x], { axes, keepdim }) {
      if (x.dtype !== 'float32') throw new Error(`${name}: expected float32, got ${x.dtype}`);
      return [{ shape: outShape(x, axes, keepdim), dtype: arg ? 'int64' : 'float32' }];
    },
    save: saves,
    grad: arg ? undefined : reduceGrad(name),
  }));
  registerNative<ReduceAttrs>(name, 'reduce', (dev, [x], [y], { code, axes }) => {
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const perm = [...kept, ...axes];
    args.begin().num(code).num(axes.length)
      .view(x, perm.map((i) => x.shape[i]), perm.map((i) => x.strides[i]), x.offset)
      .tensor(y).run(dev, 'reduce');
  });
}

function reduce(name: ReduceName, x: Tensor, axes: number | readonly number[] | undefined, keepdim: boolean): Tensor {
  return run1(defs.get(name)!, [x], { code: ReduceOp[name], axes: normAxes(axes, x.ndim), keepdim });
}

export const sum = (x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor => reduce('sum', x, axes, keepdim);
export const mean = (x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor => reduce('mean', x, axes, keepdim);
export const max = (x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor => reduce('max', x, axes, keepdim);
export const min = (x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor => reduce('min', x, axes, keepdim);
export const logsumexp = (x: Tensor, axis: number | readonly number[], keepdim = false): Tensor => reduce('logsumexp', x, axis, keepdim);
export const argmax = (x: Tensor, axis: number, keepdim = false): Tensor => reduce('argmax', x, normAxis(axis, x.ndim), keepdim);
export const argmin = (x: Tensor, axis: number, keepdim = false): Tensor => reduce('argmin', x, normAxis(axis, x.ndim), keepdim);
