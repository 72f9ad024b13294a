// Float64 reference arrays for tests: a deliberately simple, loop-based implementation that shares
// no code with the kernels it checks.
export class Ref {
  constructor(readonly data: Float64Array, readonly shape: number[]) {
    if (data.length !== Ref.size(shape)) throw new Error(`Ref: ${data.length} values for shape [${shape}]`);
  }
  static size(shape: readonly number[]): number { return shape.reduce((a, b) => a * b, 1); }
  static zeros(shape: readonly number[]): Ref { return new Ref(new Float64Array(Ref.size(shape)), [...shape]); }
  static fromFn(shape: readonly number[], f: (idx: number[]) => number): Ref {
    const r = Ref.zeros(shape);
    for (let i = 0; i < r.data.length; i++) r.data[i] = f(r.unravel(i));
    return r;
  }
  get ndim(): number { return this.shape.length; }
  get size(): number { return this.data.length; }
  strides(): number[] {
    const s = new Array<number>(this.ndim);
    let acc = 1;
    for (let i = this.ndim - 1; i >= 0; i--) { s[i] = acc; acc *= this.shape[i]; }
    return s;
  }
  unravel(i: number): number[] {
    const idx = new Array<number>(this.ndim);
    for (let d = this.ndim - 1; d >= 0; d--) { idx[d] = i % this.shape[d]; i = Math.floor(i / this.shape[d]); }
    return idx;
  }
  ravel(idx: readonly number[]): number {
    let off = 0;
    for (let d = 0; d < this.ndim; d++) off = off * this.shape[d] + idx[d];
    return off;
  }
  at(...idx: number[]): number { return this.data[this.ravel(idx)]; }
  set(idx: readonly number[], v: number): void { this.data[this.ravel(idx)] = v; }
  clone(): Ref { return new Ref(Float64Array.from(this.data), [...this.shape]); }
  map(f: (v: number, i: number) => number): Ref { return new Ref(this.data.map(f), [...this.shape]); }

  /** Elementwise with NumPy broadcasting. */
  zip(o: Ref, f: (a: number, b: number) => number): Ref {
    const nd = Math.max(this.ndim, o.ndim);
    const pad = (s: number[]) => [...new Array(nd - s.length).fill(1), ...s];
    const sa = pad(this.shape), sb = pad(o.shape);
    const shape = sa.map((d, i) => {
      if (d === sb[i] || sb[i] === 1) return d;
      if (d === 1) return sb[i];
      throw new Error(`Ref.zip: cannot broadcast [${this.shape}] and [${o.shape}]`);
    });
    const ra = new Ref(this.data, sa), rb = new Ref(o.data, sb);
    return Ref.fromFn(shape, (idx) => f(ra.data[ra.ravel(idx.map((v, i) => (sa[i] === 1 ? 0 : v)))], rb.data[rb.ravel(idx.map((v, i) => (sb[i] === 1 ? 0 : v)))]));
  }

  /** Reduction over axes with an initial value and combiner; optional keepdim. */
  reduce(axes: number[], init: number, f: (acc: number, v: number) => number, keepdim = false): Ref {
    const ax = axes.map((a) => (a < 0 ? a + this.ndim : a));
    const kshape = this.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const out = new Ref(new Float64Array(Ref.size(kshape)).fill(init), kshape);
    for (let i = 0; i < this.size; i++) {
      const idx = this.unravel(i).map((v, d) => (ax.includes(d) ? 0 : v));
      const o = out.ravel(idx);
      out.data[o] = f(out.data[o], this.data[i]);
    }
    return keepdim ? out : new Ref(out.data, this.shape.filter((_, i) => !ax.includes(i)));
  }
  sum(axes: number[], keepdim = false): Ref { return this.reduce(axes, 0, (a, v) => a + v, keepdim); }

  permute(axes: number[]): Ref {
    const shape = axes.map((a) => this.shape[a]);
    return Ref.fromFn(shape, (idx) => { const src = new Array<number>(this.ndim); axes.forEach((a, i) => { src[a] = idx[i]; }); return this.data[this.ravel(src)]; });
  }
  reshape(shape: number[]): Ref { return new Ref(this.data, shape); }

  /** Batched matmul with batch broadcasting. */
  matmul(o: Ref): Ref {
    const M = this.shape[this.ndim - 2], K = this.shape[this.ndim - 1], N = o.shape[o.ndim - 1];
    const ba = this.shape.slice(0, -2), bb = o.shape.slice(0, -2);
    const nd = Math.max(ba.length, bb.length);
    const pa = [...new Array(nd - ba.length).fill(1), ...ba], pb = [...new Array(nd - bb.length).fill(1), ...bb];
    const batch = pa.map((d, i) => Math.max(d, pb[i]));
    const A = new Ref(this.data, [...pa, M, K]), B = new Ref(o.data, [...pb, K, N]);
    return Ref.fromFn([...batch, M, N], (idx) => {
      const bi = idx.slice(0, nd);
      const ia = bi.map((v, i) => (pa[i] === 1 ? 0 : v)), ib = bi.map((v, i) => (pb[i] === 1 ? 0 : v));
      let s = 0;
      for (let k = 0; k < K; k++) s += A.data[A.ravel([...ia, idx[nd], k])] * B.data[B.ravel([...ib, k, idx[nd + 1]])];
      return s;
    });
  }
}

/** Deterministic pseudo-random numbers for test inputs (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randRef(shape: number[], r: () => number, lo = -1, hi = 1): Ref {
  const x = Ref.zeros(shape);
  for (let i = 0; i < x.size; i++) x.data[i] = lo + (hi - lo) * r();
  return x;
}
