// Binary elementwise ops with NumPy broadcasting (broadcast inputs are read through zero strides,
// never copied), their gradients reduced back to each input's shape, and in-place accumulation.
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1, type OpDef } from '../op';
import { args } from '../args';
import { BinaryOp, type BinaryName } from './codes';
import { broadcastShapes, broadcastStrides } from '../shape';
import { affine, powScalar, log } from './unary';
import { sum } from './reduce';
import { reshape } from './views';
import { where, compare } from './compare';
import { zerosLike } from './creation';

/** Sums g over the dimensions that were broadcast to produce it, returning a tensor of `shape`. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shapeEquals(shape)) return g.view(g.shape);
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = sum(g, axes, true);
  const r = reshape(s, shape);
  s.dispose();
  return r;
}

function requireFloat32(name: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'float32') throw new Error(`${name}: expected float32 tensors, got ${t.dtype} (cast it first)`);
}

function runBinaryKernel(dev: string, code: number, a: Tensor, b: Tensor, y: Tensor): void {
  args.begin().num(code)
    .view(a, y.shape, broadcastStrides(a.shape, a.strides, y.shape), a.offset)
    .view(b, y.shape, broadcastStrides(b.shape, b.strides, y.shape), b.offset)
    .tensor(y).run(dev, 'binary');
}

type Grad = (a: Tensor, b: Tensor, y: Tensor | null, g: Tensor) => [Tensor | null, Tensor | null];

const defs = new Map<BinaryName, OpDef<Record<string, never>>>();

function declare(name: BinaryName, save: { inputs?: number[]; outputs?: number[] }, grad: Grad): void {
  const op = defineOp<Record<string, never>>({
    name,
    outputs([a, b]) { requireFloat32(name, a, b); return [{ shape: broadcastShapes(a.shape, b.shape), dtype: 'float32' }]; },
    save,
    grad(ctx, [g]) {
      if (!g) return [null, null];
      const [a, b, y] = ctx.saved;
      const [ga, gb] = grad(a ?? ({ shape: ctx.inputMeta[0].shape } as Tensor), b ?? ({ shape: ctx.inputMeta[1].shape } as Tensor), y, g);
      const out: (Tensor | null)[] = [null, null];
      if (ctx.needsGrad[0] && ga) { out[0] = sumTo(ga, ctx.inputMeta[0].shape); ga.dispose(); } else ga?.dispose();
      if (ctx.needsGrad[1] && gb) { out[1] = sumTo(gb, ctx.inputMeta[1].shape); gb.dispose(); } else gb?.dispose();
      return out;
    },
  });
  registerNative<Record<string, never>>(name, 'binary', (dev, [a, b], [y]) => runBinaryKernel(dev, BinaryOp[name], a, b, y));
  defs.set(name, op);
}

const mulT = (a: Tensor, b: Tensor) => run1(defs.get('mul')!, [a, b], {});
const divT = (a: Tensor, b: Tensor) => run1(defs.get('div')!, [a, b], {});

declare('add', {}, (_a, _b, _y, g) => [g.view(g.shape), g.view(g.shape)]);
declare('sub', {}, (_a, _b, _y, g) => [g.view(g.shape), affine(g, -1, 0)]);
declare('mul', { inputs: [0, 1] }, (a, b, _y, g) => [mulT(g, b), mulT(g, a)]);
declare('div', { inputs: [0, 1] }, (a, b, _y, g) => {
  const ga = divT(g, b);                   // g / b
  const t = divT(ga, b);                   // g / b^2
  const gb0 = mulT(t, a);                  // g * a / b^2
  const gb = affine(gb0, -1, 0);
  t.dispose(); gb0.dispose();
  return [ga, gb];
});
declare('pow', { inputs: [0, 1], outputs: [0] }, (a, b, y, g) => {
  // d/da a^b = b * a^(b-1) = b * y / a ; d/db a^b = y * log(a)
  const t1 = mulT(g, b);
  const t2 = mulT(t1, y!);
  const ga = divT(t2, a);
  const la = log(a);
  const t3 = mulT(g, y!);
  const gb = mulT(t3, la);
  for (const t of [t1, t2, la, t3]) t.dispose();
  return [ga, gb];
});
function minmaxGrad(takeA: 'ge' | 'le'): Grad {
  return (a, b, _y, g) => {
    const mask = compare(takeA, a, b);    // ties send the gradient to a
    const z = zerosLike(g);
    const ga = where(mask, g, z);
    const gb = where(mask, z, g);
    mask.dispose(); z.dispose();
    return [ga, gb];
  };
}
declare('maximum', { inputs: [0, 1] }, minmaxGrad('ge'));
declare('minimum', { inputs: [0, 1] }, minmaxGrad('le'));

function binary(name: BinaryName, a: Tensor, b: Tensor): Tensor { return run1(defs.get(name)!, [a, b], {}); }

export const add = (a: Tensor, b: Tensor | number): Tensor => (typeof b === 'number' ? affine(a, 1, b) : binary('add', a, b));
export const sub = (a: Tensor, b: Tensor | number): Tensor => (typeof b === 'number' ? affine(a, 1, -b) : binary('sub', a, b));
export const mul = (a: Tensor, b: Tensor | number): Tensor => (typeof b === 'number' ? affine(a, b, 0) : binary('mul', a, b));
export const div = (a: Tensor, b: Tensor | number): Tensor => (typeof b === 'number' ? affine(a, 1 / b, 0) : binary('div', a, b));
export const pow = (a: Tensor, b: Tensor | number): Tensor => (typeof b === 'number' ? powScalar(a, b) : binary('pow', a, b));
export const maximum = (a: Tensor, b: Tensor): Tensor => binary('maximum', a, b);
export const minimum = (a: Tensor, b: Tensor): Tensor => binary('minimum', a, b);

/** dst += src (broadcast src), in place and outside autograd. */
export function addInPlace(dst: Tensor, src: Tensor): Tensor {
  if (dst.requiresGrad && !dst.isLeaf) throw new Error('addInPlace on a tensor that is part of a graph');
  requireFloat32('addInPlace', dst, src);
  runBinaryKernel(dst.device, BinaryOp.add, dst, src, dst);
  return dst;
}

/** dst = a (op) b written into an existing tensor (used by optimizers and fused updates). */
export function binaryInto(name: BinaryName, a: Tensor, b: Tensor, dst: Tensor): Tensor {
  requireFloat32(name, a, b, dst);
  runBinaryKernel(dst.device, BinaryOp[name], a, b, dst);
  return dst;
}
