// Fused SwiGLU y = silu(gate) * up in one native pass, with a native backward giving dgate and dup.
import { Tensor } from '../../tensor';
import { defineOp, registerNative, run1 } from '../../op';
import { args } from '../../args';
import { shapesEqual } from '../../shape';
import { slice } from '../views';

const swigluOp = defineOp<Record<string, never>>({
  name: 'fused_swiglu',
  outputs([gate, up]) {
    if (gate.dtype !== 'float32' || up.dtype !== 'float32') throw new Error(`swiglu: expected float32 gate and up, got ${gate.dtype} and ${up.dtype}`);
    if (!shapesEqual(gate.shape, up.shape)) throw new Error(`swiglu: gate [${gate.shape.join(', ')}] and up [${up.shape.join(', ')}] must have the same shape`);
    return [{ shape: [...gate.shape], dtype: 'float32' }];
  },
  save: { inputs: [0, 1] },
  grad(ctx, [g]) {
    if (!g) return [null, null];
    const gate = ctx.saved[0]!, up = ctx.saved[1]!;
    const dgate = Tensor.empty(gate.shape, { device: gate.device });   // (..., F)
    const dup = Tensor.empty(up.shape, { device: up.device });         // (..., F)
    // views of any layout are read through their strides: no copies
    if (g.size > 0) args.begin().tensor(gate).tensor(up).tensor(g).tensor(dgate).tensor(dup).run(gate.device, 'fused_swiglu_backward');
    if (!ctx.needsGrad[0]) dgate.dispose();
    if (!ctx.needsGrad[1]) dup.dispose();
    return [ctx.needsGrad[0] ? dgate : null, ctx.needsGrad[1] ? dup : null];
  },
});
registerNative<Record<string, never>>('fused_swiglu', 'fused_swiglu', (dev, [gate, up], [y]) => {
  if (y.size > 0) args.begin().tensor(gate).tensor(up).tensor(y).run(dev, 'fused_swiglu');
});

/**
 * silu(gate) * up for gate, up (..., F). With a single packed (..., 2F) input (one fused gate/up
 * projection), the first half of the last dim is the gate and the second half is up.
 */
export function swiglu(gate: Tensor, up?: Tensor): Tensor {
  if (up) return run1(swigluOp, [gate, up], {});
  const F2 = gate.shape[gate.ndim - 1];
  if (gate.ndim === 0 || F2 % 2 !== 0) throw new Error(`swiglu: a packed input needs an even last dim, got [${gate.shape.join(', ')}]`);
  const g = slice(gate, -1, 0, F2 / 2), u = slice(gate, -1, F2 / 2);
  try { return run1(swigluOp, [g, u], {}); } finally { g.dispose(); u.dispose(); }
}
