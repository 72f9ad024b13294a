// checkOp: one call checks an op's forward against a float64 reference and its gradient against
// central finite differences of that reference, for contiguous and non-contiguous inputs.
import { Tensor, tensor, noGrad, tidy } from '@stellar/tensor';
import { Ref, rng, randRef } from './ref';

export type Layout = 'contiguous' | 'transposed' | 'strided' | 'broadcast';

export interface InputSpec {
  shape: number[];
  /** Value range for random data (default [-1, 1]). */
  range?: [number, number];
  /** Fixed values instead of random ones. */
  values?: number[];
  /** How the tensor handed to the op is laid out in memory (same logical values). */
  layout?: Layout;
  /** Not differentiated (integer-like inputs, masks...). */
  noGrad?: boolean;
}

export interface CheckOpOptions {
  inputs: InputSpec[];
  ours: (...xs: Tensor[]) => Tensor | Tensor[];
  ref: (...xs: Ref[]) => Ref | Ref[];
  atol?: number;
  rtol?: number;
  gradAtol?: number;
  gradRtol?: number;
  /** Check gradients (default true). */
  grad?: boolean;
  fdEps?: number;
  seed?: number;
}

/** Builds a leaf tensor and the (possibly non-contiguous) view of it the op sees. */
function makeInput(x: Ref, layout: Layout): { leaf: Tensor; view: Tensor; gradOf: (g: Tensor) => Ref; fdToLeaf?: (fd: Ref) => Ref } {
  const nd = x.ndim;
  if (layout === 'transposed' && nd >= 2) {
    const axes = [...Array(nd).keys()];
    [axes[nd - 2], axes[nd - 1]] = [axes[nd - 1], axes[nd - 2]];
    const base = x.permute(axes);
    const leaf = tensor(Float32Array.from(base.data), { shape: base.shape, requiresGrad: true });
    const view = leaf.transpose(-2, -1);
    return { leaf, view, gradOf: (g) => toRef(g).permute(axes) };
  }
  if (layout === 'strided' && nd >= 1) {
    // every other element of a twice-as-long last dim
    const shape2 = [...x.shape]; shape2[nd - 1] *= 2;
    const base = Ref.fromFn(shape2, (idx) => (idx[nd - 1] % 2 === 0 ? x.at(...idx.slice(0, -1), idx[nd - 1] / 2) : 1e6));
    const leaf = tensor(Float32Array.from(base.data), { shape: shape2, requiresGrad: true });
    const view = leaf.slice(-1, 0, undefined, 2);
    return { leaf, view, gradOf: (g) => { const r = toRef(g); return Ref.fromFn(x.shape, (idx) => r.at(...idx.slice(0, -1), idx[nd - 1] * 2)); } };
  }
  if (layout === 'broadcast' && nd >= 1 && x.shape[0] > 1) {
    // first dim comes from expanding a size-1 dim: all rows equal, so use row 0 everywhere
    const row = Ref.fromFn([1, ...x.shape.slice(1)], (idx) => x.at(0, ...idx.slice(1)));
    for (let i = 0; i < x.size; i++) x.data[i] = row.data[i % row.size];
    const leaf = tensor(Float32Array.from(row.data), { shape: row.shape, requiresGrad: true });
    const view = leaf.expand(x.shape);
    return { leaf, view, gradOf: (g) => toRef(g), fdToLeaf: (fd) => fd.sum([0], true) };
  }
  const leaf = tensor(Float32Array.from(x.data), { shape: x.shape, requiresGrad: true });
  return { leaf, view: leaf, gradOf: (g) => toRef(g) };
}

export function toRef(t: Tensor): Ref { return new Ref(t.toFloat64(), [...t.shape]); }

export function expectClose(actual: Ref, expected: Ref, atol: number, rtol: number, what: string): void {
  if (actual.shape.join(',') !== expected.shape.join(',')) {
    throw new Error(`${what}: shape [${actual.shape}] != expected [${expected.shape}]`);
  }
  let worst = -1, wi = -1;
  for (let i = 0; i < actual.size; i++) {
    const a = actual.data[i], e = expected.data[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(err <= 0) && (err > worst || Number.isNaN(err))) { worst = Number.isNaN(err) ? Infinity : err; wi = i; }
  }
  if (wi >= 0) {
    throw new Error(`${what}: element ${wi} (index [${actual.unravel(wi)}]) is ${actual.data[wi]}, expected ${expected.data[wi]} (atol ${atol}, rtol ${rtol})`);
  }
}

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

export function checkOp(o: CheckOpOptions): void {
  const r = rng(o.seed ?? 1234);
  const atol = o.atol ?? 1e-5, rtol = o.rtol ?? 1e-4;
  const gradAtol = o.gradAtol ?? 1e-3, gradRtol = o.gradRtol ?? 1e-2;
  const eps = o.fdEps ?? 1e-6;
  const xs = o.inputs.map((s) => (s.values ? new Ref(Float64Array.from(s.values), [...s.shape]) : randRef(s.shape, r, ...(s.range ?? [-1, 1]))));
  // float32 rounding of the inputs happens once, so the reference sees exactly what we see
  for (const x of xs) for (let i = 0; i < x.size; i++) x.data[i] = Math.fround(x.data[i]);
  tidy(() => {
    const ins = xs.map((x, i) => makeInput(x, o.inputs[i].layout ?? 'contiguous'));
    const outs = asList(o.ours(...ins.map((t) => t.view)));
    const refs = asList(o.ref(...xs));
    if (outs.length !== refs.length) throw new Error(`ours returned ${outs.length} outputs, reference ${refs.length}`);
    outs.forEach((t, k) => expectClose(toRef(t), refs[k], atol, rtol, `forward output ${k}`));
    if (o.grad === false) return;
    // loss = sum_k sum(out_k * w_k) with random cotangents w_k
    const ws = refs.map((rf) => randRef(rf.shape, r));
    const diff = outs.map((t, k) => ({ t, k })).filter(({ t }) => t.requiresGrad);
    if (diff.length === 0) throw new Error('no output requires grad');
    diff.forEach(({ t, k }, j) => {
      const w = tensor(Float32Array.from(ws[k].data), { shape: ws[k].shape });
      t.backward(w, { retainGraph: j < diff.length - 1 });
    });
    const loss = (vals: Ref[]): number => {
      const ys = asList(o.ref(...vals));
      let s = 0;
      ys.forEach((y, k) => { for (let i = 0; i < y.size; i++) s += y.data[i] * ws[k].data[i]; });
      return s;
    };
    xs.forEach((x, i) => {
      if (o.inputs[i].noGrad) return;
      // finite differences cost O(size^2) reference work: keep gradient checks on small inputs
      if (x.size > 4096) throw new Error(`checkOp: input ${i} has ${x.size} elements; use a smaller shape for gradient checks (or grad: false)`);
      const fd = Ref.zeros(x.shape);
      for (let j = 0; j < x.size; j++) {
        const v = x.data[j];
        const p = xs.map((y) => y.clone()), m = xs.map((y) => y.clone());
        p[i].data[j] = v + eps;
        m[i].data[j] = v - eps;
        fd.data[j] = (loss(p) - loss(m)) / (2 * eps);
      }
      const leafGrad = ins[i].leaf.grad;
      if (!leafGrad) throw new Error(`input ${i} received no gradient`);
      const g = noGrad(() => ins[i].gradOf(leafGrad));
      const want = ins[i].fdToLeaf ? ins[i].fdToLeaf!(fd) : fd;
      expectClose(g, want, gradAtol, gradRtol, `gradient of input ${i}`);
    });
    for (const t of ins) t.leaf.zeroGrad();
  });
}
