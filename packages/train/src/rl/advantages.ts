// Host-side (no autograd) statistics of a rollout batch, row-major (B, T) Float64Arrays with a 0/1
// mask: masked mean/variance/whitening (TRL's masked_whiten), GAE, group-relative advantages (GRPO)
// and explained variance. These run once per rollout on a few thousand numbers.

export function maskedMean(x: ArrayLike<number>, mask: ArrayLike<number>): number {
  let s = 0, n = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]) { s += x[i]; n++; }
  return n ? s / n : 0;
}

/** Masked variance; unbiased (Bessel, as TRL's default) needs at least two masked entries. */
export function maskedVar(x: ArrayLike<number>, mask: ArrayLike<number>, unbiased = true): number {
  const m = maskedMean(x, mask);
  let s = 0, n = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]) { s += (x[i] - m) ** 2; n++; }
  if (!n) return 0;
  const v = s / n;
  if (!unbiased) return v;
  if (n < 2) throw new Error('maskedVar: the unbiased variance needs at least 2 masked values');
  return (v * n) / (n - 1);
}

/** (x - mean) / sqrt(var + 1e-8) over the masked entries (mean added back with shiftMean false); 0 where masked out. */
export function maskedWhiten(x: ArrayLike<number>, mask: ArrayLike<number>, shiftMean = true): Float64Array {
  const m = maskedMean(x, mask), v = maskedVar(x, mask);
  const r = 1 / Math.sqrt(v + 1e-8);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) if (mask[i]) out[i] = (x[i] - m) * r + (shiftMean ? 0 : m);
  return out;
}

/**
 * Generalised advantage estimation (Schulman et al. 2016) per row of (B, T) rewards and values over
 * right-padded masks: delta_t = r_t + gamma V_{t+1} - V_t with V = 0 after the last masked token,
 * A_t = delta_t + gamma lambda A_{t+1}; returns = A + V. Entries outside the mask are 0.
 */
export function gae(rewards: ArrayLike<number>, values: ArrayLike<number>, mask: ArrayLike<number>, B: number, T: number, gamma = 1, lambda = 0.95): { advantages: Float64Array; returns: Float64Array } {
  const advantages = new Float64Array(B * T), returns = new Float64Array(B * T);
  for (let b = 0; b < B; b++) {
    let last = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = b * T + t;
      if (!mask[i]) { last = 0; continue; }
      const next = t + 1 < T && mask[i + 1] ? values[i + 1] : 0;
      const delta = rewards[i] + gamma * next - values[i];
      last = delta + gamma * lambda * last;
      advantages[i] = last;
      returns[i] = last + values[i];
    }
  }
  return { advantages, returns };
}

/**
 * GRPO advantages of rewards laid out as consecutive groups of `groupSize` samples of one prompt:
 * (r - mean_group) / (std_group + eps) with the unbiased std (TRL's nanstd), or r - mean_group when
 * scale is false (Dr. GRPO). eps defaults to TRL's 1e-4.
 */
export function groupAdvantages(rewards: ArrayLike<number>, groupSize: number, o: { scale?: boolean; eps?: number } = {}): Float64Array {
  if (!(Number.isInteger(groupSize) && groupSize >= 1) || rewards.length % groupSize) throw new Error(`groupAdvantages: ${rewards.length} rewards do not split into groups of ${groupSize}`);
  const eps = o.eps ?? 1e-4, out = new Float64Array(rewards.length);
  for (let g = 0; g < rewards.length; g += groupSize) {
    let m = 0;
    for (let i = 0; i < groupSize; i++) m += rewards[g + i];
    m /= groupSize;
    let v = 0;
    for (let i = 0; i < groupSize; i++) v += (rewards[g + i] - m) ** 2;
    const std = groupSize > 1 ? Math.sqrt(v / (groupSize - 1)) : 0;
    for (let i = 0; i < groupSize; i++) out[g + i] = (o.scale ?? true) ? (rewards[g + i] - m) / (std + eps) : rewards[g + i] - m;
  }
  return out;
}

/** 1 - Var[returns - values] / Var[returns] over the masked entries (1 = perfect critic, <= 0 = useless). */
export function explainedVariance(values: ArrayLike<number>, returns: ArrayLike<number>, mask: ArrayLike<number>): number {
  const diff = Float64Array.from({ length: values.length }, (_, i) => returns[i] - values[i]);
  const vr = maskedVar(returns, mask, false);
  return vr > 0 ? 1 - maskedVar(diff, mask, false) / vr : NaN;
}
