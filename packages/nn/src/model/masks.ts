// Host-side checks and conversions of the attention mask and position ids a caller passes in.
import { Tensor } from '@stellar/tensor';

/**
 * HF attention_mask (B, S) of 0/1 (any dtype) -> the kernel's (B, S) bool key mask, or null when
 * every key is visible (the unmasked kernel path is faster).
 */
export function keyPaddingMask(mask: Tensor, B: number, S: number): Tensor | null {
  if (mask.ndim !== 2 || mask.shape[0] !== B || mask.shape[1] !== S) {
    throw new Error(`attentionMask must be (B, S) = (${B}, ${S}) covering cached and new positions, got [${mask.shape.join(', ')}]`);
  }
  const v = mask.toFloat64();
  let all = true;
  const m = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 0 && v[i] !== 1) throw new Error(`attentionMask must hold 0 or 1, found ${v[i]} at flat index ${i}`);
    m[i] = v[i];
    if (!v[i]) all = false;
  }
  return all ? null : Tensor.fromArray(m, [B, S], { dtype: 'bool', device: mask.device });
}

/** Largest position id (dynamic RoPE scaling depends on it). */
export function maxPosition(positionIds: Tensor): number {
  let m = 0;
  for (const p of positionIds.toFloat64()) if (p > m) m = p;
  return m;
}

/** HF generate's rule for left-padded batches: position = (number of real tokens before it), pads get 1. */
export function positionsFromMask(mask: ArrayLike<number>, B: number, S: number): Int32Array {
  const pos = new Int32Array(B * S);
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let s = 0; s < S; s++) {
      const real = mask[b * S + s] !== 0;
      pos[b * S + s] = real ? n : 1;
      if (real) n++;
    }
  }
  return pos;
}
