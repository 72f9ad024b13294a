// Scaled dot-product attention: the fused flash-style op (causal, key-padding and packed-sample segment
// masks, grouped KV heads, per-row logsumexp saved for its fused backward) and an unfused version built
// from existing ops, which is the baseline for tests and benchmarks.
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1 } from '../op';
import { args } from '../args';
import { tidy } from '../scope';
import { cast, contiguous } from './copy';
import { matmul } from './matmul';
import { softmax } from './softmax';
import { eq, where } from './compare';
import { mul } from './binary';
import { expand, reshape, slice, transpose, unsqueeze } from './views';

export interface AttentionOptions {
  /** The T queries are the last T of the S key positions and see only keys at or before their own. */
  causal?: boolean;
  /** Score scale; defaults to 1 / sqrt(D). */
  scale?: number;
  /** (B, S) bool: 1 = attend, 0 = masked out. A query whose keys are all masked outputs zeros. */
  keyPaddingMask?: Tensor;
  /**
   * (B, S) int32 segment ids over the key positions, for rows packing several samples: query i (at key
   * position S - T + i) sees key j only when their ids are equal, on top of the other masks. Needs T <= S.
   */
  segmentIds?: Tensor;
}

interface AttnAttrs { causal: boolean; scale: number; hasMask: boolean; hasSeg: boolean }
interface Dims { B: number; Hq: number; Hkv: number; T: number; S: number; D: number }

function dims(q: Tensor, k: Tensor, v: Tensor, mask?: Tensor | null, seg?: Tensor | null): Dims {
  const sh = (t: Tensor) => `[${t.shape.join(', ')}]`;
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) throw new Error(`attention: q, k, v must be 4-D (B, H, T, D); got ${sh(q)}, ${sh(k)}, ${sh(v)}`);
  for (const t of [q, k, v]) if (t.dtype !== 'float32') throw new Error(`attention: expected float32 inputs, got ${t.dtype}`);
  const [B, Hq, T, D] = q.shape;
  const [, Hkv, S] = k.shape;
  if (k.shape[0] !== B || k.shape[3] !== D) throw new Error(`attention: k ${sh(k)} does not match q ${sh(q)} (want (B, Hkv, S, D))`);
  if (!v.shapeEquals(k.shape)) throw new Error(`attention: v ${sh(v)} must have k's shape ${sh(k)}`);
  if (Hkv === 0 || Hq % Hkv !== 0) throw new Error(`attention: ${Hq} query heads are not a multiple of ${Hkv} KV heads`);
  if (D === 0) throw new Error('attention: head dim is 0');
  if (mask && (mask.dtype !== 'bool' || mask.ndim !== 2 || mask.shape[0] !== B || mask.shape[1] !== S)) {
    throw new Error(`attention: keyPaddingMask must be a (B, S) = (${B}, ${S}) bool tensor, got ${mask.dtype} ${sh(mask)}`);
  }
  if (seg) {
    if (seg.dtype !== 'int32' || seg.ndim !== 2 || seg.shape[0] !== B || seg.shape[1] !== S) {
      throw new Error(`attention: segmentIds must be a (B, S) = (${B}, ${S}) int32 tensor, got ${seg.dtype} ${sh(seg)}`);
    }
    if (T > S) throw new Error(`attention: segmentIds need every query at a key position, got T = ${T} > S = ${S}`);
  }
  for (const [name, t] of [['keyPaddingMask', mask], ['segmentIds', seg]] as const) {
    if (t && t.device !== q.device) throw new Error(`attention: ${name} is on ${t.device} but q is on ${q.device}`);
  }
  return { B, Hq, Hkv, T, S, D };
}

/** The tensor itself when its last dim is unit-stride (the kernels' fast path), else a contiguous copy. */
function unitLast(t: Tensor, temps: Tensor[]): Tensor {
  if (t.strides[t.ndim - 1] === 1 || t.shape[t.ndim - 1] === 1) return t;
  const c = contiguous(t);
  temps.push(c);
  return c;
}

/** The optional inputs after q, k, v: [mask?, segmentIds?]. */
function masksOf(inputs: readonly (Tensor | null)[], attrs: AttnAttrs): { mask: Tensor | null; seg: Tensor | null } {
  return { mask: attrs.hasMask ? inputs[3] : null, seg: attrs.hasSeg ? inputs[3 + (attrs.hasMask ? 1 : 0)] : null };
}

/** Appends has_mask-guarded mask, then has_seg and the segment ids, as read_attn_problem expects. */
function packMasks(a: typeof args, mask: Tensor | null, seg: Tensor | null): void {
  if (mask) a.tensor(mask);
  a.bool(!!seg);
  if (seg) a.tensor(seg);
}

const attentionOp = defineOp<AttnAttrs>({
  name: 'scaled_dot_product_attention',
  outputs(inputs, attrs) {
    const [q, k, v] = inputs;
    const { mask, seg } = masksOf(inputs, attrs);
    const { B, Hq, T, D } = dims(q, k, v, mask, seg);
    return [{ shape: [B, Hq, T, D], dtype: 'float32' }];
  },
  save: { inputs: [0, 1, 2, 3, 4], outputs: [0] },
  grad(ctx, [g]) {
    const n = ctx.inputMeta.length;
    if (!g) return new Array<Tensor | null>(n).fill(null);
    const [q0, k0, v0] = ctx.saved as Tensor[];
    const { mask, seg } = masksOf(ctx.saved, ctx.attrs);
    const o = ctx.saved[n]!;           // (B, Hq, T, D) forward output
    const lse = ctx.extra![0];         // (B, Hq, T)
    const temps: Tensor[] = [];
    const dq = Tensor.empty(q0.shape, { device: q0.device });
    const dk = Tensor.empty(k0.shape, { device: k0.device });
    const dv = Tensor.empty(v0.shape, { device: v0.device });
    try {
      const [q, k, v, go] = [q0, k0, v0, g].map((t) => unitLast(t, temps));
      const a = args.begin().bool(ctx.attrs.causal).num(ctx.attrs.scale).bool(!!mask).tensor(q).tensor(k).tensor(v);
      packMasks(a, mask, seg);
      a.tensor(o).tensor(lse).tensor(go).tensor(dq).tensor(dk).tensor(dv).run(q.device, 'attention_bwd');
    } catch (e) {
      dq.dispose(); dk.dispose(); dv.dispose();
      throw e;
    } finally {
      for (const t of temps) t.dispose();
    }
    // The kernel produces all three at once; hand back only the ones asked for.
    const out: (Tensor | null)[] = [dq, dk, dv];
    for (let i = 0; i < 3; i++) if (!ctx.needsGrad[i]) { out[i]!.dispose(); out[i] = null; }
    while (out.length < n) out.push(null);  // the masks get none
    return out;
  },
});

registerNative<AttnAttrs>('scaled_dot_product_attention', 'attention_fwd', (dev, inputs, [o], attrs) => {
  const [q0, k0, v0] = inputs;
  const { mask, seg } = masksOf(inputs, attrs);
  const { B, Hq, T } = dims(q0, k0, v0, mask, seg);
  const lse = Tensor.empty([B, Hq, T], { device: dev });  // per-row logsumexp for the backward
  const temps: Tensor[] = [];
  try {
    const [q, k, v] = [q0, k0, v0].map((t) => unitLast(t, temps));
    const a = args.begin().bool(attrs.causal).num(attrs.scale).bool(!!mask).tensor(q).tensor(k).tensor(v);
    packMasks(a, mask, seg);
    a.tensor(o).tensor(lse).run(dev, 'attention_fwd');
  } catch (e) {
    lse.dispose();
    throw e;
  } finally {
    for (const t of temps) t.dispose();
  }
  return [lse];
});

/**
 * Fused attention softmax(scale * q k^T + mask) v with grouped KV heads: q (B, Hq, T, D), k and v
 * (B, Hkv, S, D) with Hq % Hkv == 0 (query head h uses KV head h / (Hq / Hkv)). Returns (B, Hq, T, D).
 * Views whose last dim is unit-stride (e.g. `x.view(B, T, H, D).transpose(1, 2)`) are read in place.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const mask = opts.keyPaddingMask, seg = opts.segmentIds;
  const { D } = dims(q, k, v, mask, seg);
  const attrs: AttnAttrs = { causal: !!opts.causal, scale: opts.scale ?? 1 / Math.sqrt(D), hasMask: !!mask, hasSeg: !!seg };
  const inputs = [q, k, v];
  if (mask) inputs.push(mask);
  if (seg) inputs.push(seg);
  return run1(attentionOp, inputs, attrs);
}

/** (T, S) bool, true where query i (absolute position S - T + i) may see key j. */
function causalMask(T: number, S: number, device: Tensor['device']): Tensor {
  const m = new Uint8Array(T * S);
  for (let i = 0; i < T; i++) for (let j = 0; j <= Math.min(S - 1, S - T + i); j++) m[i * S + j] = 1;
  return Tensor.fromArray(m, [T, S], { dtype: 'bool', device });
}

/**
 * The same attention composed from existing ops (expand, matmul, scale, where with -inf, softmax,
 * matmul), differentiable through ordinary autograd; the baseline the fused op is checked against.
 */
export function attentionUnfused(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const mask = opts.keyPaddingMask, seg = opts.segmentIds;
  const { B, Hq, Hkv, T, S, D } = dims(q, k, v, mask, seg);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const group = Hq / Hkv;
  return tidy(() => {
    // (B, Hkv, S, D) -> (B, Hq, S, D): each KV head repeated for its group of query heads
    const heads = (t: Tensor) => (group === 1 ? t : reshape(expand(unsqueeze(t, 2), [B, Hkv, group, S, D]), [B, Hq, S, D]));
    let scores = mul(matmul(q, transpose(heads(k), -2, -1)), scale);  // (B, Hq, T, S)
    if (opts.causal) scores = where(causalMask(T, S, q.device), scores, -Infinity);
    if (mask) scores = where(reshape(mask, [B, 1, 1, S]), scores, -Infinity);
    if (seg) {
      // (B, 1, T, S): the queries' ids (the last T key positions) against every key's id; comparisons
      // take float32, exact for ids below 2^24
      const ids = cast(seg, 'float32');   // (B, S)
      const qIds = reshape(slice(ids, 1, S - T), [B, 1, T, 1]);
      scores = where(eq(qIds, reshape(ids, [B, 1, 1, S])), scores, -Infinity);
    }
    return matmul(softmax(scores, -1), heads(v));  // (B, Hq, T, D)
  });
}
