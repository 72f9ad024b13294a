// Unary elementwise ops. Each is declared once; all share the native "unary" kernel and their
// gradient is g * f'(x) from the "unary_backward" kernel (the derivative formulas live in C++
// next to the forward ones, shared with CUDA).
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1, type OpDef } from '../op';
import { args } from '../args';
import { UnaryOp, type UnaryName } from './codes';
import { broadcastStrides } from '../shape';

interface UnaryAttrs { code: number; p: number; q: number }

function requireFloat32(name: string, t: Tensor): void {
  if (t.dtype !== 'float32') throw new Error(`${name}: expected a float32 tensor, got ${t.dtype} (cast it first)`);
}

/** gx = g * f'(x), reading x and g through broadcast-aware strides. */
export function unaryBackward(code: number, p: number, q: number, x: Tensor, g: Tensor): Tensor {
  const gx = Tensor.empty(x.shape, { device: x.device });
  args.begin().num(code).num(p).num(q).tensor(x).view(g, x.shape, broadcastStrides(g.shape, g.strides, x.shape), g.offset).tensor(gx)
    .run(x.device, 'unary_backward');
  return gx;
}

const defs = new Map<string, OpDef<UnaryAttrs>>();

function declare(name: string): OpDef<UnaryAttrs> {
  const op = defineOp<UnaryAttrs>({
    name,
    outputs([x]) { requireFloat32(name, x); return [{ shape: [...x.shape], dtype: 'float32' }]; },
    save: { inputs: [0] },
    grad(ctx, [g]) {
      const { code, p, q } = ctx.attrs;
      return [g ? unaryBackward(code, p, q, ctx.saved[0]!, g) : null];
    },
  });
  registerNative<UnaryAttrs>(name, 'unary', (dev, [x], [y], { code, p, q }) => {
    args.begin().num(code).num(p).num(q).tensor(x).tensor(y).run(dev, 'unary');
  });
  defs.set(name, op);
  return op;
}

for (const name of Object.keys(UnaryOp) as UnaryName[]) declare(name);

function unary(name: UnaryName, x: Tensor, p = 0, q = 0): Tensor {
  return run1(defs.get(name)!, [x], { code: UnaryOp[name], p, q });
}

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const silu = (x: Tensor): Tensor => unary('silu', x);
/** GELU; `approximate: 'tanh'` uses the tanh formula (GPT-2), otherwise the exact erf form. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => unary(approximate === 'tanh' ? 'gelu_tanh' : 'gelu', x);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x);
export const square = (x: Tensor): Tensor => unary('square', x);
export const sin = (x: Tensor): Tensor => unary('sin', x);
export const cos = (x: Tensor): Tensor => unary('cos', x);
export const sign = (x: Tensor): Tensor => unary('sign', x);
/** x ** p for a scalar exponent. */
export const powScalar = (x: Tensor, p: number): Tensor => unary('pow_scalar', x, p);
/** x * scale + shift in one pass (scalar arithmetic on tensors goes through this). */
export const affine = (x: Tensor, scale: number, shift: number): Tensor => unary('affine', x, scale, shift);
