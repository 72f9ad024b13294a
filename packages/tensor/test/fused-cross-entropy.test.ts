// Fused cross-entropy: forward vs a float64 loop reference (PyTorch semantics: ignore_index, label
// smoothing, reductions), gradients vs finite differences, vocabularies spanning several chunks,
// fully ignored batches, and fused == logSoftmax + gather composed from unfused ops.
import * as T from '@stellar/tensor';
import { checkOp, expectClose, toRef, type Layout } from './util/check-op';
import { Ref, rng, randRef } from './util/ref';

type Red = 'mean' | 'sum' | 'none';
interface RefOpts { ignore?: number; eps?: number; reduction?: Red }

/** PyTorch: (1 - eps) * nll + eps/V * sum_c -logp_c per row, 0 on ignored rows; mean divides by the kept count. */
function xentRef(x: Ref, targets: number[], o: RefOpts = {}): Ref {
  const [N, V] = x.shape;
  const ignore = o.ignore ?? -100, eps = o.eps ?? 0, reduction = o.reduction ?? 'mean';
  const rows = Ref.zeros([N]);
  let count = 0;
  for (let r = 0; r < N; r++) {
    if (targets[r] === ignore) continue;
    count++;
    let m = -Infinity;
    for (let c = 0; c < V; c++) m = Math.max(m, x.at(r, c));
    let s = 0;
    for (let c = 0; c < V; c++) s += Math.exp(x.at(r, c) - m);
    const lse = m + Math.log(s);
    let smooth = 0;
    for (let c = 0; c < V; c++) smooth += lse - x.at(r, c);
    rows.data[r] = (1 - eps) * (lse - x.at(r, targets[r])) + (eps / V) * smooth;
  }
  if (reduction === 'none') return rows;
  const total = rows.data.reduce((a, b) => a + b, 0);
  return new Ref(Float64Array.of(reduction === 'sum' ? total : count ? total / count : 0), []);
}

/** d loss / d logits in float64 for a scalar loss (mean or sum). */
function xentGradRef(x: Ref, targets: number[], o: RefOpts = {}): Ref {
  const [N, V] = x.shape;
  const ignore = o.ignore ?? -100, eps = o.eps ?? 0;
  const count = targets.filter((t) => t !== ignore).length;
  const scale = o.reduction === 'sum' ? 1 : 1 / count;
  const g = Ref.zeros([N, V]);
  for (let r = 0; r < N; r++) {
    if (targets[r] === ignore) continue;
    let m = -Infinity;
    for (let c = 0; c < V; c++) m = Math.max(m, x.at(r, c));
    let s = 0;
    for (let c = 0; c < V; c++) s += Math.exp(x.at(r, c) - m);
    for (let c = 0; c < V; c++) g.set([r, c], scale * (Math.exp(x.at(r, c) - m) / s - eps / V - (c === targets[r] ? 1 - eps : 0)));
  }
  return g;
}

const ids = (v: number[], dtype: 'int32' | 'int64' = 'int64', shape = [v.length]) =>
  T.tensor(dtype === 'int32' ? Int32Array.from(v) : BigInt64Array.from(v.map(BigInt)), { shape, dtype });

describe('crossEntropy vs float64 reference and finite differences', () => {
  const targets = [3, -100, 0, 6, 2];
  for (const reduction of ['mean', 'sum', 'none'] as Red[]) {
    for (const eps of [0, 0.1]) {
      test(`reduction ${reduction}, labelSmoothing ${eps}`, () => {
        checkOp({
          inputs: [{ shape: [5, 7], range: [-3, 3] }],
          ours: (x) => T.crossEntropy(x, ids(targets), { reduction, labelSmoothing: eps }),
          ref: (x) => xentRef(x, targets, { reduction, eps }),
        });
      });
    }
  }

  for (const layout of ['transposed', 'strided', 'broadcast'] as Layout[]) {
    test(`${layout} logits`, () => {
      checkOp({ inputs: [{ shape: [5, 7], layout }], ours: (x) => T.crossEntropy(x, ids(targets, 'int32')), ref: (x) => xentRef(x, targets) });
    });
  }

  test('rows with a stride (a slice of a wider buffer) are read in place', () => {
    checkOp({
      inputs: [{ shape: [5, 10] }],
      ours: (x) => T.crossEntropy(T.slice(x, -1, 0, 7), ids(targets), { labelSmoothing: 0.05 }),
      ref: (x) => xentRef(Ref.fromFn([5, 7], ([r, c]) => x.at(r, c)), targets, { eps: 0.05 }),
    });
  });

  test('(B, T, V) logits with (B, T) targets; reduction none keeps (B, T)', () => {
    const t = [1, 4, -100, 0, 2, 2];
    checkOp({
      inputs: [{ shape: [2, 3, 5] }],
      ours: (x) => {
        const y = T.crossEntropy(x, ids(t, 'int32', [2, 3]), { reduction: 'none' });
        expect(y.shape).toEqual([2, 3]);
        return y;
      },
      ref: (x) => xentRef(x.reshape([6, 5]), t, { reduction: 'none' }).reshape([2, 3]),
    });
  });

  test('custom ignoreIndex, V = 1 and N = 1', () => {
    checkOp({ inputs: [{ shape: [4, 3] }], ours: (x) => T.crossEntropy(x, ids([0, 7, 2, 7]), { ignoreIndex: 7 }), ref: (x) => xentRef(x, [0, 7, 2, 7], { ignore: 7 }) });
    checkOp({ inputs: [{ shape: [3, 1] }], ours: (x) => T.crossEntropy(x, ids([0, 0, 0])), ref: (x) => xentRef(x, [0, 0, 0]) });
    checkOp({ inputs: [{ shape: [1, 6] }], ours: (x) => T.crossEntropy(x, ids([5]), { labelSmoothing: 0.3 }), ref: (x) => xentRef(x, [5], { eps: 0.3 }) });
  });
});

describe('crossEntropy semantics', () => {
  test('matches PyTorch on a fixed example (ignore_index + label_smoothing)', () => {
    // torch.nn.functional.cross_entropy(x.double(), torch.tensor([2, -100, 3]), ignore_index=-100,
    //   label_smoothing=0.2) -> 1.1575915605427118; x.grad printed below
    const x = T.tensor([[0.5, -1.0, 2.0, 0.0], [1.5, 0.25, -0.75, 3.0], [-2.0, 1.0, 0.5, 0.125]], { requiresGrad: true });
    const loss = T.crossEntropy(x, ids([2, -100, 3]), { labelSmoothing: 0.2 });
    expect(loss.item()).toBeCloseTo(1.1575915605427118, 5);
    loss.backward();
    const want = [0.05422235475748987, -0.007323103295625567, -0.0699500385569129, 0.023050787095048604, 0, 0, 0, 0,
      -0.012992582789388852, 0.2161754217358494, 0.12128028765191734, -0.32446312659837784];
    expectClose(toRef(x.grad!), new Ref(Float64Array.from(want), [3, 4]), 1e-6, 1e-5, 'grad vs PyTorch');
  });

  test('V = 5003 (several chunks, not a multiple of the chunk): loss and gradient', () => {
    const r = rng(5);
    const N = 3, V = 5003;
    const xr = randRef([N, V], r, -6, 6).map(Math.fround);
    xr.set([1, 4000], 9);   // the max sits in a later chunk than the target
    const t = [17, 4999, 2048];
    for (const [reduction, eps] of [['mean', 0], ['sum', 0.1]] as [Red, number][]) {
      T.tidy(() => {
        const x = T.tensor(Float32Array.from(xr.data), { shape: [N, V], requiresGrad: true });
        const loss = T.crossEntropy(x, ids(t), { reduction, labelSmoothing: eps });
        expectClose(toRef(loss), xentRef(xr, t, { reduction, eps }), 1e-5, 1e-5, 'loss');
        loss.backward();
        expectClose(toRef(x.grad!), xentGradRef(xr, t, { reduction, eps }), 1e-7, 1e-4, 'dlogits');
      });
    }
  });

  test('ignored rows contribute nothing, whatever their logits', () => {
    T.tidy(() => {
      const r = rng(9);
      const xr = randRef([4, 6], r);
      for (let c = 0; c < 6; c++) xr.set([2, c], c === 0 ? 80 : -80);   // extreme row, ignored
      const x = T.tensor(Float32Array.from(xr.data), { shape: [4, 6], requiresGrad: true });
      const loss = T.crossEntropy(x, ids([1, 5, -100, 0]), { labelSmoothing: 0.1 });
      const kept = T.tensor(Float32Array.from([0, 1, 3].flatMap((row) => Array.from({ length: 6 }, (_, c) => xr.at(row, c)))), { shape: [3, 6] });
      expect(loss.item()).toBeCloseTo(T.crossEntropy(kept, ids([1, 5, 0]), { labelSmoothing: 0.1 }).item(), 6);
      loss.backward();
      expect(Array.from(toRef(x.grad!).data.slice(12, 18))).toEqual([0, 0, 0, 0, 0, 0]);
    });
  });

  test('an all-ignored batch gives loss 0 and zero gradients (PyTorch gives NaN for mean)', () => {
    T.tidy(() => {
      for (const reduction of ['mean', 'sum'] as Red[]) {
        const x = T.tensor(Float32Array.from({ length: 12 }, (_, i) => i - 5), { shape: [3, 4], requiresGrad: true });
        const loss = T.crossEntropy(x, ids([-100, -100, -100]), { reduction, labelSmoothing: 0.1 });
        expect(loss.item()).toBe(0);
        loss.backward();
        expect(Array.from(x.grad!.toFloat64()).every((v) => v === 0)).toBe(true);
      }
    });
  });

  test('int32 and int64 targets agree; large offsets are stable', () => {
    T.tidy(() => {
      const r = rng(2);
      const xr = randRef([3, 9], r, -2, 2);
      const x = T.tensor(Float32Array.from(xr.data), { shape: [3, 9] });
      const a = T.crossEntropy(x, ids([1, 2, 8], 'int32')).item();
      expect(T.crossEntropy(x, ids([1, 2, 8], 'int64')).item()).toBe(a);
      expect(T.crossEntropy(T.add(x, 1000), ids([1, 2, 8])).item()).toBeCloseTo(a, 3);
      expect(T.crossEntropy(T.add(x, -1e4), ids([1, 2, 8])).item()).toBeCloseTo(a, 2);
    });
  });

  test('out-of-range targets throw', () => {
    const x = T.zeros([2, 4]);
    expect(() => T.crossEntropy(x, ids([0, 4]))).toThrow(/out of range/);
    expect(() => T.crossEntropy(x, ids([-1, 0]))).toThrow(/out of range/);
    expect(() => T.crossEntropy(x, ids([0, 1, 2]))).toThrow(/targets/);
  });
});

describe('fused == unfused (logSoftmax + gather)', () => {
  // loss = sum_r mask_r ((1 - eps) * -logp[r, t_r] + eps/V * -sum_c logp[r, c]) / count
  function unfused(x: T.Tensor, t: number[], eps: number, reduction: Red): T.Tensor {
    const [N, V] = x.shape;
    const mask = T.tensor(t.map((v) => (v === -100 ? 0 : 1)), { shape: [N] });
    const count = t.filter((v) => v !== -100).length;
    const lsm = T.logSoftmax(x, -1);
    const picked = T.reshape(T.gather(lsm, -1, ids(t.map((v) => (v === -100 ? 0 : v)), 'int64', [N, 1])), [N]);
    const rowLoss = T.mul(T.add(T.mul(picked, -(1 - eps)), T.mul(T.sum(lsm, -1), -eps / V)), mask);
    if (reduction === 'none') return rowLoss;
    return reduction === 'sum' ? T.sum(rowLoss) : T.div(T.sum(rowLoss), count);
  }
  const t = [4, -100, 0, 130, 77, 5, -100, 199];
  for (const [reduction, eps] of [['mean', 0], ['mean', 0.1], ['sum', 0.2], ['none', 0.05]] as [Red, number][]) {
    test(`${reduction}, labelSmoothing ${eps} (output and dlogits)`, () => {
      const r = rng(4);
      const xr = randRef([8, 200], r, -4, 4);
      const w = reduction === 'none' ? randRef([8], r) : null;
      const run = (f: (x: T.Tensor) => T.Tensor) => T.tidy(() => {
        const x = T.tensor(Float32Array.from(xr.data), { shape: xr.shape, requiresGrad: true });
        const y = f(x);
        y.backward(w ? T.tensor(Float32Array.from(w.data), { shape: w.shape }) : undefined);
        return { y: toRef(y), g: toRef(x.grad!) };
      });
      const a = run((x) => T.crossEntropy(x, ids(t), { reduction, labelSmoothing: eps }));
      const b = run((x) => unfused(x, t, eps, reduction));
      expectClose(a.y, b.y, 1e-5, 1e-5, 'loss');
      expectClose(a.g, b.g, 1e-5, 1e-5, 'dlogits');
    });
  }
});
