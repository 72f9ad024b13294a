// Fused rotary position embedding in the Hugging Face LLaMA layout (rotate_half: dims i and i + D/2
// form a pair), with linear / NTK frequency scaling and XPos. cos/sin are computed inside the kernel
// in double precision from integer position ids; the backward is the transposed rotation.
import { Tensor } from '../../tensor';
import { defineOp, registerNative, run1 } from '../../op';
import { args } from '../../args';
import { isIndex } from '../../dtype';
import type { Device } from '../../device';
import { contiguous } from '../copy';

export interface RopeOptions {
  /** rope_theta, the base of the frequencies (default 10000). */
  theta?: number;
  /**
   * 'linear': positions are divided by `factor` (HF "linear" rope_scaling).
   * 'ntk': static NTK-aware scaling, theta' = theta * factor^(D / (D - 2)) (the base HF's "dynamic"
   * variant uses at its maximum length; here it is fixed).
   */
  scaling?: { type: 'linear' | 'ntk'; factor: number };
  /**
   * XPos (Sun et al. 2022): pair i is also scaled by zeta_i^(pos / scaleBase), zeta_i = (2i/D + 0.4) / 1.4,
   * multiplied for queries and divided for keys so q.k depends on the relative distance only.
   * The raw position ids are used: zeta^(pos/scaleBase) under/overflows float32 for positions of
   * several thousand with scaleBase 512, so pass centred position ids for long sequences.
   */
  xpos?: { scaleBase: number };
  /** Whether x holds queries (scale multiplies) or keys (scale divides); default 'query'. */
  xposKind?: 'query' | 'key';
}

interface RopeAttrs { theta: number; factor: number; scaleBase: number; sign: number }

function launch(dev: Device, x: Tensor, pos: Tensor, y: Tensor, a: RopeAttrs, inverse: boolean): void {
  if (y.size === 0) return;
  const [B, , T] = x.shape;
  const xc = x.strides[3] === 1 || x.shape[3] <= 1 ? x : contiguous(x);
  try {
    const b = args.begin().num(a.theta).num(a.factor).num(a.scaleBase).num(a.sign).bool(inverse).tensor(xc);
    // (T) positions are shared by every sequence: a zero batch stride lets the kernel build one table
    if (pos.ndim === 1) b.view(pos, [B, T], [0, pos.strides[0]], pos.offset); else b.tensor(pos);
    b.tensor(y).run(dev, 'fused_rope');
  } finally { if (xc !== x) xc.dispose(); }
}

const ropeOp = defineOp<RopeAttrs>({
  name: 'fused_rope',
  outputs([x, pos]) {
    if (x.dtype !== 'float32') throw new Error(`applyRotary: x must be float32, got ${x.dtype}`);
    if (x.ndim !== 4) throw new Error(`applyRotary: x must be (B, H, T, D), got [${x.shape.join(', ')}]`);
    const [B, , T, D] = x.shape;
    if (D % 2 !== 0) throw new Error(`applyRotary: head dim ${D} must be even`);
    if (!isIndex(pos.dtype)) throw new Error(`applyRotary: positions must be int32 or int64, got ${pos.dtype}`);
    const ok = (pos.ndim === 1 && pos.shape[0] === T) || (pos.ndim === 2 && pos.shape[0] === B && pos.shape[1] === T);
    if (!ok) throw new Error(`applyRotary: positions [${pos.shape.join(', ')}] must be (T) = [${T}] or (B, T) = [${B}, ${T}]`);
    return [{ shape: [...x.shape], dtype: 'float32' }];
  },
  save: { inputs: [1] },
  grad(ctx, [g]) {
    if (!g || !ctx.needsGrad[0]) return [null, null];
    const pos = ctx.saved[1]!;
    const dx = Tensor.empty(g.shape, { device: g.device });   // (B, H, T, D)
    try { launch(g.device, g, pos, dx, ctx.attrs, true); } catch (e) { dx.dispose(); throw e; }
    return [dx, null];
  },
});
registerNative<RopeAttrs>('fused_rope', 'fused_rope', (dev, [x, pos], [y], attrs) => launch(dev, x, pos, y, attrs, false));

/**
 * Rotary embedding of x (B, H, T, D) (any strides; a unit-stride head dim avoids a copy) at integer
 * positions (T) or (B, T). Returns a contiguous (B, H, T, D) tensor.
 */
export function applyRotary(x: Tensor, positions: Tensor, opts: RopeOptions = {}): Tensor {
  let theta = opts.theta ?? 10000;
  let factor = 1;
  const D = x.shape[x.ndim - 1];
  if (opts.scaling) {
    const f = opts.scaling.factor;
    if (!(f > 0)) throw new Error(`applyRotary: scaling factor must be positive, got ${f}`);
    if (opts.scaling.type === 'linear') factor = f;
    else if (opts.scaling.type === 'ntk') {
      if (D <= 2) throw new Error('applyRotary: NTK scaling needs a head dim > 2');
      theta = theta * Math.pow(f, D / (D - 2));
    } else throw new Error(`applyRotary: unknown scaling type "${(opts.scaling as { type: string }).type}"`);
  }
  if (!(theta > 0)) throw new Error(`applyRotary: theta must be positive, got ${theta}`);
  const scaleBase = opts.xpos ? opts.xpos.scaleBase : 0;
  if (opts.xpos && !(scaleBase > 0)) throw new Error(`applyRotary: xpos.scaleBase must be positive, got ${scaleBase}`);
  const sign = (opts.xposKind ?? 'query') === 'query' ? 1 : -1;
  return run1(ropeOp, [x, positions], { theta, factor, scaleBase, sign });
}
