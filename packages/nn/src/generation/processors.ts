// Logit processors for sampling, on one row of host logits (Float64Array, modified in place):
// repetition / presence / frequency penalties, temperature, top-k, top-p (nucleus) and min-p.
// Order and semantics follow Hugging Face generate (penalties first, then the warpers) and the
// OpenAI API for presence/frequency penalties.

/** CTRL / HF repetition penalty: every token already seen (prompt included) has logit / p if positive, * p if negative. */
export function applyRepetitionPenalty(logits: Float64Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const t of new Set(seen)) logits[t] = logits[t] > 0 ? logits[t] / penalty : logits[t] * penalty;
}

/** OpenAI penalties over the generated tokens: logit -= presence * [count > 0] + frequency * count. */
export function applyPresenceFrequency(logits: Float64Array, counts: Map<number, number>, presence: number, frequency: number): void {
  if (presence === 0 && frequency === 0) return;
  for (const [t, n] of counts) logits[t] -= presence * (n > 0 ? 1 : 0) + frequency * n;
}

/** Keeps the k largest logits (ties at the k-th value kept, as HF does), the rest become -Infinity. */
export function applyTopK(logits: Float64Array, k: number): void {
  if (k <= 0 || k >= logits.length) return;
  const sorted = Float64Array.from(logits).sort();
  const kth = sorted[logits.length - k];
  for (let i = 0; i < logits.length; i++) if (logits[i] < kth) logits[i] = -Infinity;
}

/** Softmax of a row (max-subtracted, float64). */
export function softmaxRow(logits: Float64Array): Float64Array {
  let m = -Infinity;
  for (const x of logits) if (x > m) m = x;
  const p = new Float64Array(logits.length);
  let s = 0;
  for (let i = 0; i < p.length; i++) { p[i] = Math.exp(logits[i] - m); s += p[i]; }
  for (let i = 0; i < p.length; i++) p[i] /= s;
  return p;
}

/** log-softmax of a row. */
export function logSoftmaxRow(logits: Float64Array): Float64Array {
  let m = -Infinity;
  for (const x of logits) if (x > m) m = x;
  let s = 0;
  for (const x of logits) s += Math.exp(x - m);
  const lse = m + Math.log(s);
  return logits.map((x) => x - lse);
}

/**
 * Nucleus: keeps the most probable tokens whose cumulative probability reaches p (the token that
 * crosses p is kept; at least one token always survives).
 */
export function applyTopP(logits: Float64Array, p: number): void {
  if (p >= 1) return;
  const probs = softmaxRow(logits);
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  let cum = 0;
  let i = 0;
  for (; i < order.length; i++) { cum += probs[order[i]]; if (cum >= p) { i++; break; } }
  for (let j = Math.max(i, 1); j < order.length; j++) logits[order[j]] = -Infinity;
}

/** min-p: drops tokens whose probability is below minP times the most likely token's. */
export function applyMinP(logits: Float64Array, minP: number): void {
  if (minP <= 0) return;
  const probs = softmaxRow(logits);
  let top = 0;
  for (const q of probs) if (q > top) top = q;
  for (let i = 0; i < logits.length; i++) if (probs[i] < minP * top) logits[i] = -Infinity;
}

export function argmaxRow(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Draws an index from probabilities with a uniform u in [0, 1). */
export function sampleRow(probs: Float64Array, u: number): number {
  let c = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    last = i;
    c += probs[i];
    if (u < c) return i;
  }
  return last;   // rounding left u above the total
}
