// INT8 weight-only quantization: quantizeInt8's rounding and scales, and matmulW8 (both native paths:
// small M streams int8 rows, large M dequantizes panels for sgemm) against a float64 reference.
import * as T from '@stellar/tensor';
import { rng } from './util/ref';

function rand(shape: number[], r: () => number, scale = 1): T.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return T.tensor(Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale), { shape });
}

/** float64 x (M, K) @ (scale * q)^T from the quantized values themselves. */
function refW8(x: Float64Array, q: Int8Array, s: Float64Array, M: number, N: number, K: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let acc = 0;
    for (let k = 0; k < K; k++) acc += x[m * K + k] * q[n * K + k];
    out[m * N + n] = acc * s[n];
  }
  return out;
}

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]));
  return w;
}

describe('quantizeInt8', () => {
  test('per-row symmetric scales, round to nearest, |W - scale q| <= scale / 2', () => {
    T.tidy(() => {
      const r = rng(3);
      const w = rand([7, 45], r, 3);
      const { q, scale } = T.quantizeInt8(w);
      expect(q.shape).toEqual([7, 45]);
      expect(q.dtype).toBe('int8');
      expect(scale.shape).toEqual([7]);
      const qv = T.int8Values(q), s = scale.toFloat64(), wv = w.toFloat64();
      for (let n = 0; n < 7; n++) {
        let amax = 0;
        for (let k = 0; k < 45; k++) amax = Math.max(amax, Math.abs(wv[n * 45 + k]));
        expect(s[n]).toBeCloseTo(amax / 127, 6);
        let hitsEdge = false;
        for (let k = 0; k < 45; k++) {
          const v = qv[n * 45 + k];
          expect(Math.abs(v)).toBeLessThanOrEqual(127);
          if (Math.abs(v) === 127) hitsEdge = true;
          expect(Math.abs(wv[n * 45 + k] - s[n] * v)).toBeLessThanOrEqual(s[n] / 2 + 1e-6);
        }
        expect(hitsEdge).toBe(true);   // the row's largest magnitude maps to +-127
      }
      const back = T.dequantizeInt8({ q, scale }).toFloat64();
      for (let i = 0; i < wv.length; i++) expect(back[i]).toBeCloseTo(qv[i] * s[Math.floor(i / 45)], 5);
    });
  });

  test('known values, zero rows, and bad inputs', () => {
    T.tidy(() => {
      const w = T.tensor([[1, -0.5, 0.25, -1.27], [0, 0, 0, 0]]);
      const { q, scale } = T.quantizeInt8(w);
      expect(Array.from(T.int8Values(q))).toEqual([100, -50, 25, -127, 0, 0, 0, 0]);
      expect(scale.toFloat64()[0]).toBeCloseTo(0.01, 7);
      expect(scale.toFloat64()[1]).toBe(0);
      expect(() => T.quantizeInt8(T.zeros([3]))).toThrow(/2-D/);
      expect(() => T.quantizeInt8(T.tensor([[1, Infinity]]))).toThrow(/non-finite/);
      expect(() => T.quantizeInt8(T.tensor([[1, 2]], { dtype: 'int32' }))).toThrow(/float/);
    });
  });
});

describe('matmulW8', () => {
  const r = rng(11);
  test('M 1..20 (small and panel paths), odd K/N, against float64', () => {
    const Ks = [1, 7, 16, 33, 100, 256];
    const Ns = [1, 9, 64, 65, 130];
    for (let M = 1; M <= 20; M++) {
      const K = Ks[M % Ks.length], N = Ns[(M * 7) % Ns.length];
      T.tidy(() => {
        const x = rand([M, K], r), wq = T.quantizeInt8(rand([N, K], r));
        const want = refW8(x.toFloat64(), T.int8Values(wq.q), wq.scale.toFloat64(), M, N, K);
        const y = T.matmulW8(x, wq);
        expect(y.shape).toEqual([M, N]);
        const err = maxErr(y.toFloat64(), want);
        if (!(err <= 1e-6 * Math.max(1, K))) throw new Error(`M=${M} K=${K} N=${N}: max error ${err}`);
      });
    }
  });

  test('batched and non-contiguous x; close to the fp32 matmul it replaces', () => {
    T.tidy(() => {
      const B = 2, S = 3, K = 48, N = 20;
      const xt = rand([B, K, S], r);
      const x = T.transpose(xt);            // (B, S, K), not contiguous
      const w = rand([N, K], r);
      const wq = T.quantizeInt8(w);
      const y = T.matmulW8(x, wq);
      expect(y.shape).toEqual([B, S, N]);
      const want = refW8(T.contiguous(x).toFloat64(), T.int8Values(wq.q), wq.scale.toFloat64(), B * S, N, K);
      expect(maxErr(y.toFloat64(), want)).toBeLessThan(1e-4);
      // quantization error: |x| <= 1, K = 48, per-element weight error <= scale / 2 ~ 0.004
      const full = T.matmul(x, T.transpose(w));
      expect(maxErr(y.toFloat64(), full.toFloat64())).toBeLessThan(48 * (1 / 127 / 2));
      expect(maxErr(y.toFloat64(), full.toFloat64())).toBeGreaterThan(0);
    });
  });

  test('inference only: refuses inputs that need a gradient, works under noGrad', () => {
    T.tidy(() => {
      const x = rand([2, 8], r).requiresGrad_();
      const wq = T.quantizeInt8(rand([4, 8], r));
      expect(() => T.matmulW8(x, wq)).toThrow(/inference-only/);
      const y = T.noGrad(() => T.matmulW8(x, wq));
      expect(y.requiresGrad).toBe(false);
      expect(() => T.matmulW8(rand([2, 9], r), wq)).toThrow(/in-features 8/);
      expect(() => T.matmulW8(x.detach(), { q: T.zeros([4, 8]), scale: wq.scale })).toThrow(/q must be the \(out, in\) int8 tensor.*got float32/);
      // the old uint8-storage form is refused too: a 'bool' tensor is not int8
      expect(() => T.matmulW8(x.detach(), { q: T.zeros([4, 8], { dtype: 'bool' }), scale: wq.scale })).toThrow(/got bool/);
      // a hand-built int8 weight works like a quantized one
      const q = T.tensor(Int8Array.from({ length: 32 }, (_, i) => (i % 2 ? -1 : 1) * i), { dtype: 'int8', shape: [4, 8] });
      const ones = T.ones([1, 8]);
      const got = Array.from(T.matmulW8(ones, { q, scale: T.full([4], 0.5) }).toFloat64());
      const want = [0, 1, 2, 3].map((n) => 0.5 * Array.from({ length: 8 }, (_, k) => n * 8 + k).reduce((s, v) => s + (v % 2 ? -v : v), 0));
      expect(got).toEqual(want);
      expect(() => T.int8Values(T.zeros([2], { dtype: 'bool' }))).toThrow(/int8/);
    });
  });
});
