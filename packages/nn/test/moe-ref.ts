// Float64 reference of the MoE block for moe.test.ts: plain loops over host arrays, written from the
// math (softmax router, top-k, renormalised weights, SwiGLU experts, capacity in token order, HF
// load-balancing loss, z-loss), sharing no code with src/model/moe.ts.

export type Params = Map<string, { data: Float64Array; shape: number[] }>;

export interface RefOptions { E: number; k: number; capacity?: number; shared?: boolean; chosen?: Int32Array }

export interface RefOut { y: Float64Array; logits: Float64Array; aux: number; z: number; chosen: Int32Array; margin: number; dropped: number }

/** y (M, out) = x (M, in) W^T for W (out, in). */
function linear(x: Float64Array, m: number, w: { data: Float64Array; shape: number[] }): Float64Array {
  const [o, i] = w.shape;
  const y = new Float64Array(m * o);
  for (let r = 0; r < m; r++) for (let a = 0; a < o; a++) {
    let s = 0;
    for (let b = 0; b < i; b++) s += x[r * i + b] * w.data[a * i + b];
    y[r * o + a] = s;
  }
  return y;
}

/** SwiGLU expert on one row x (C). */
export function refExpert(p: Params, prefix: string, names: [string, string, string], x: Float64Array): Float64Array {
  const g = linear(x, 1, p.get(`${prefix}${names[0]}.weight`)!), u = linear(x, 1, p.get(`${prefix}${names[1]}.weight`)!);
  const h = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]);
  return linear(h, 1, p.get(`${prefix}${names[2]}.weight`)!);
}

/** The block on x (N, C); `chosen` overrides the top-k selection (as training-time noise would). */
export function refMoe(p: Params, x: Float64Array, n: number, c: number, o: RefOptions): RefOut {
  const { E, k } = o;
  const logits = linear(x, n, p.get('gate.weight')!);   // (N, E)
  const probs = new Float64Array(n * E);
  let z = 0, margin = Infinity;
  const chosen = new Int32Array(n * k);
  for (let r = 0; r < n; r++) {
    const row = logits.subarray(r * E, (r + 1) * E);
    const m = Math.max(...row);
    const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
    z += (m + Math.log(s)) ** 2;
    for (let e = 0; e < E; e++) probs[r * E + e] = Math.exp(row[e] - m) / s;
    const order = [...Array(E).keys()].sort((a, b) => row[b] - row[a] || a - b);
    if (k < E) margin = Math.min(margin, row[order[k - 1]] - row[order[k]]);
    for (let j = 0; j < k; j++) chosen[r * k + j] = o.chosen ? o.chosen[r * k + j] : order[j];
  }
  const y = new Float64Array(n * c);
  const load = new Array(E).fill(0);
  let dropped = 0;
  const counts = new Array(E).fill(0), psum = new Array(E).fill(0);
  for (let r = 0; r < n; r++) {
    const xr = x.subarray(r * c, (r + 1) * c);
    let tot = 0;
    for (let j = 0; j < k; j++) tot += probs[r * E + chosen[r * k + j]];
    for (let j = 0; j < k; j++) {
      const e = chosen[r * k + j];
      counts[e]++;
      if (load[e] >= (o.capacity ?? Infinity)) { dropped++; continue; }
      load[e]++;
      const w = probs[r * E + e] / tot;
      const ye = refExpert(p, `experts.${e}.`, ['w1', 'w3', 'w2'], xr);
      for (let i = 0; i < c; i++) y[r * c + i] += w * ye[i];
    }
    if (o.shared) {
      const ys = refExpert(p, 'shared_expert.', ['gate_proj', 'up_proj', 'down_proj'], xr);
      for (let i = 0; i < c; i++) y[r * c + i] += ys[i];
    }
    for (let e = 0; e < E; e++) psum[e] += probs[r * E + e];
  }
  // HF: E * sum_e (count_e / N) * (mean prob_e)
  let aux = 0;
  for (let e = 0; e < E; e++) aux += (counts[e] / n) * (psum[e] / n);
  return { y, logits, aux: aux * E, z: z / n, chosen, margin, dropped };
}
