// Multi-tensor AdamW: several steps over tensors of different sizes vs a float64 implementation of
// PyTorch's AdamW formulas, per-tensor weight decay, maximize, grads left untouched, input checks.
import * as T from '@stellar/tensor';
import { expectClose } from './util/check-op';
import { Ref, rng, randRef } from './util/ref';

interface Hyper { lr: number; beta1: number; beta2: number; eps: number; wd: number[]; maximize?: boolean }

/** torch.optim.AdamW (single tensor, amsgrad off) in float64 for one tensor and one step. */
function adamwRef(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, step: number, h: Hyper, wd: number): void {
  const bc1 = 1 - h.beta1 ** step, bc2 = 1 - h.beta2 ** step;
  for (let i = 0; i < p.length; i++) {
    const gi = h.maximize ? -g[i] : g[i];
    p[i] *= 1 - h.lr * wd;
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * gi;
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * gi * gi;
    p[i] -= (h.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + h.eps);
  }
}

const f32 = (r: Ref) => Float64Array.from(r.data, Math.fround);

function runSteps(shapes: number[][], h: Hyper, steps: number, seed: number): void {
  const r = rng(seed);
  const sizes = shapes.map((s) => Ref.size(s));
  // float32-rounded starting values, shared by both implementations
  const p64 = shapes.map((s) => f32(randRef(s, r)));
  const m64 = sizes.map((n) => new Float64Array(n));
  const v64 = sizes.map((n) => new Float64Array(n));
  T.tidy(() => {
    const params = p64.map((p, i) => T.tensor(Float32Array.from(p), { shape: shapes[i] }));
    const expAvg = shapes.map((s) => T.zeros(s));
    const expAvgSq = shapes.map((s) => T.zeros(s));
    for (let step = 1; step <= steps; step++) {
      const g64 = shapes.map((s) => f32(randRef(s, r, -2, 2)));
      const grads = g64.map((g, i) => T.tensor(Float32Array.from(g), { shape: shapes[i] }));
      T.adamwStep(params, grads, expAvg, expAvgSq, { lr: h.lr, beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.wd, step, maximize: h.maximize });
      g64.forEach((g, i) => {
        // the gradients are only read
        const after = grads[i].toFloat64();
        expect(after.every((x, j) => x === g[j])).toBe(true);
        adamwRef(p64[i], g, m64[i], v64[i], step, h, h.wd[i]);
      });
    }
    shapes.forEach((s, i) => {
      expectClose(new Ref(params[i].toFloat64(), s), new Ref(p64[i], s), 1e-7, 1e-6, `param ${i}`);
      // m cancels (sum of +-g terms): its float32 error is relative to |g| <= 2, not to m itself
      expectClose(new Ref(expAvg[i].toFloat64(), s), new Ref(m64[i], s), 1e-7, 1e-6, `exp_avg ${i}`);
      expectClose(new Ref(expAvgSq[i].toFloat64(), s), new Ref(v64[i], s), 1e-9, 1e-6, `exp_avg_sq ${i}`);
    });
  });
}

describe('adamwStep', () => {
  // the two large tensors make the pool split the concatenated range inside a tensor
  const shapes = [[7], [300, 70], [20011]];

  test('5 steps on 3 tensors vs float64 PyTorch formulas, per-tensor weight decay', () => {
    runSteps(shapes, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: [0.1, 0, 0.05] }, 5, 1);
  });

  test('other betas, larger eps, maximize', () => {
    runSteps([[3, 5], [1], [129]], { lr: 3e-3, beta1: 0.8, beta2: 0.95, eps: 1e-6, wd: [0.01, 0.01, 0.5], maximize: true }, 5, 2);
  });

  test('matches torch.optim.AdamW (float32) on a fixed example', () => {
    // p = Parameter([0.5, -1, 2, 0]); AdamW([p], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1),
    // three steps with the grads below; p, exp_avg, exp_avg_sq as printed by PyTorch 2.x
    T.tidy(() => {
      const p = T.tensor([0.5, -1.0, 2.0, 0.0]);
      const m = T.zeros([4]), v = T.zeros([4]);
      const gs = [[0.1, -0.2, 0.3, 0.0], [-0.5, 0.25, 0.125, 1.0], [0.3, 0.3, -0.7, -2.0]];
      gs.forEach((g, i) => T.adamwStep([p], [T.tensor(g)], [m], [v], { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: i + 1 }));
      const close = (t: T.Tensor, want: number[]) => expectClose(new Ref(t.toFloat64(), [4]), new Ref(Float64Array.from(want), [4]), 1e-7, 1e-6, 'vs torch');
      close(p, [0.4952312111854553, -0.9939289689064026, 1.977816104888916, -0.004285628441721201]);
      close(m, [-0.006899994798004627, 0.03630000352859497, -0.034449998289346695, -0.10999999195337296]);
      close(v, [0.0034730101469904184, 0.0019107901025563478, 0.005936777219176292, 0.04989999905228615]);
    });
  });

  test('rejects non-contiguous, non-float32 and mismatched tensors with clear errors', () => {
    T.tidy(() => {
      const p = T.zeros([4, 3]), g = T.zeros([4, 3]), m = T.zeros([4, 3]), v = T.zeros([4, 3]);
      const o = { lr: 1e-3, step: 1 };
      expect(() => T.adamwStep([p], [T.zeros([3, 4]).transpose()], [m], [v], o)).toThrow(/grads\[0\] must be contiguous/);
      expect(() => T.adamwStep([T.slice(p, 1, 0, 2)], [g], [m], [v], o)).toThrow(/params\[0\] must be contiguous/);
      expect(() => T.adamwStep([p], [g], [T.zeros([4, 3], { dtype: 'int32' })], [v], o)).toThrow(/expAvg\[0\] must be float32/);
      expect(() => T.adamwStep([p], [g], [m], [T.zeros([5])], o)).toThrow(/expAvgSq\[0\] has 5 elements/);
      expect(() => T.adamwStep([p], [g, g], [m], [v], o)).toThrow(/1 params but 2 grads/);
      expect(() => T.adamwStep([p], [g], [m], [v], { lr: 1e-3, step: 0 })).toThrow(/step/);
      expect(() => T.adamwStep([p], [g], [m], [v], { ...o, weightDecay: [0.1, 0.2] })).toThrow(/weightDecay/);
    });
  });
});
