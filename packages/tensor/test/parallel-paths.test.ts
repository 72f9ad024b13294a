// The multi-threaded and copy-free paths a training step takes on tensors larger than the op tests use:
// long contiguous rows split across threads, GEMMs split into row / column blocks over the pool,
// weight gradients adopted as .grad without a copy. Each is checked against a float64 reference.
import * as T from '@stellar/tensor';
import { rng } from './util/ref';

/** Runs fn with the pool at `n` threads, restoring the previous count. */
function withThreads<R>(n: number, fn: () => R): R {
  const prev = T.numThreads();
  T.setNumThreads(n);
  try { return fn(); } finally { T.setNumThreads(prev); }
}

/** Values in [-1, 1) that float32 holds exactly, so references see what the kernels see. */
function randArray(n: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => Math.fround(r() * 2 - 1));
}
const tensorOf = (a: Float64Array, shape: number[]) => T.Tensor.fromArray(Array.from(a), shape);

function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0, at = -1;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= worst)) { worst = excess; at = i; }
  }
  if (at >= 0) throw new Error(`element ${at}: got ${actual[at]}, expected ${expected[at]}`);
}

// Row-major float64 product of op(A) (M, K) and op(B) (K, N); a and b are stored as given by ta / tb.
function refMatmul(a: Float64Array, b: Float64Array, M: number, K: number, N: number, ta: boolean, tb: boolean): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const av = ta ? a[k * M + i] : a[i * K + k];
      for (let j = 0; j < N; j++) c[i * N + j] += av * (tb ? b[j * K + k] : b[k * N + j]);
    }
  }
  return c;
}

describe('elementwise kernels split one long row across threads', () => {
  // 3 * 40_001 elements coalesce into one row longer than the 32768-element piece, with a ragged tail
  const shape = [3, 40001], n = 3 * 40001;
  const a = randArray(n, 1), b = randArray(n, 2);

  for (const threads of [1, 2, 3]) {
    test(`add, swiglu forward and backward, copy of a transposed view (${threads} threads)`, () => {
      withThreads(threads, () => T.tidy(() => {
        const ta = tensorOf(a, shape), tb = tensorOf(b, shape);
        expectAllClose(T.add(ta, tb).toFloat64(), a.map((v, i) => v + b[i]), 1e-6, 1e-6);
        const silu = (g: number) => g / (1 + Math.exp(-g));
        expectAllClose(T.swiglu(ta, tb).toFloat64(), a.map((g, i) => silu(g) * b[i]), 1e-6, 1e-5);
        // swiglu backward through autograd: d/dup = silu(gate), d/dgate = up * silu'(gate)
        const g = ta.detach().requiresGrad_(), u = tb.detach().requiresGrad_();
        T.sum(T.swiglu(g, u)).backward();
        expectAllClose(u.grad!.toFloat64(), a.map(silu), 1e-6, 1e-5);
        const dsilu = (x: number) => { const s = 1 / (1 + Math.exp(-x)); return s * (1 + x * (1 - s)); };
        expectAllClose(g.grad!.toFloat64(), a.map((x, i) => b[i] * dsilu(x)), 1e-6, 1e-5);
        // (40001, 3) transposed view -> contiguous: strided pieces of the source
        const t = T.contiguous(T.transpose(ta));
        const want = new Float64Array(n);
        for (let i = 0; i < 3; i++) for (let j = 0; j < 40001; j++) want[j * 3 + i] = a[i * 40001 + j];
        expectAllClose(t.toFloat64(), want, 0, 0);
      }));
    });
  }

  test('broadcast operand (zero inner stride) and in-place accumulation over a split row', () => {
    withThreads(2, () => T.tidy(() => {
      const long = randArray(100003, 3), one = tensorOf(Float64Array.of(0.25), [1]);
      expectAllClose(T.add(tensorOf(long, [100003]), one).toFloat64(), long.map((v) => v + 0.25), 1e-6, 1e-6);
      const acc = tensorOf(long, [100003]);
      T.addInPlace(acc, acc.detach());
      expectAllClose(acc.toFloat64(), long.map((v) => 2 * v), 1e-6, 1e-6);
      expectAllClose(T.zeros([100003]).toFloat64(), new Float64Array(100003), 0, 0);
    }));
  });
});

describe('fp32 GEMM split over the thread pool', () => {
  // above the 2 MFLOP split threshold; M >= N splits rows, N > M splits columns; sizes not multiples of 16
  const cases: [number, number, number][] = [[203, 150, 101], [37, 150, 301]];
  for (const [M, K, N] of cases) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      test(`${M}x${K} @ ${K}x${N}${ta ? ', A transposed' : ''}${tb ? ', B transposed' : ''}`, () => {
        const a = randArray(M * K, M + K), b = randArray(K * N, K + N);
        const want = refMatmul(a, b, M, K, N, ta, tb);
        for (const threads of [1, 2, 3]) {
          withThreads(threads, () => T.tidy(() => {
            const at = ta ? T.transpose(tensorOf(a, [K, M])) : tensorOf(a, [M, K]);
            const bt = tb ? T.transpose(tensorOf(b, [N, K])) : tensorOf(b, [K, N]);
            expectAllClose(T.matmul(at, bt).toFloat64(), want, 1e-4, 1e-5);
          }));
        }
      });
    }
  }
});

describe('gradients without extra copies', () => {
  test('x @ W^T: dW arrives in W\'s (out, in) layout, owned by W.grad, and later backward passes accumulate into it', () => {
    withThreads(2, () => T.tidy(() => {
      const B = 3, Tn = 40, C = 48, O = 56;
      const xa = randArray(B * Tn * C, 5), wa = randArray(O * C, 6), ga = randArray(B * Tn * O, 7);
      const x = tensorOf(xa, [B, Tn, C]);
      const w = tensorOf(wa, [O, C]).requiresGrad_();
      const g = tensorOf(ga, [B, Tn, O]);
      T.matmul(x, T.transpose(w)).backward(g);
      // dW[o, c] = sum over rows of g[r, o] * x[r, c]
      const want = refMatmul(ga, xa, O, B * Tn, C, true, false);
      expect(w.grad!.isContiguous).toBe(true);
      expectAllClose(w.grad!.toFloat64(), want, 1e-4, 1e-5);
      T.matmul(x, T.transpose(w)).backward(g);
      expectAllClose(w.grad!.toFloat64(), want.map((v) => 2 * v), 2e-4, 1e-5);
    }));
  });

  test('leaves whose gradients share one buffer each get their own .grad', () => {
    T.tidy(() => {
      // add's gradient reaches both inputs as views of the same tensor: neither may take it over
      const a = T.Tensor.fromArray([1, 2, 3], [3]).requiresGrad_();
      const b = T.Tensor.fromArray([4, 5, 6], [3]).requiresGrad_();
      T.add(a, b).backward(T.Tensor.fromArray([1, 1, 1], [3]));
      T.addInPlace(a.grad!, T.Tensor.fromArray([10, 10, 10], [3]));
      expect(Array.from(a.grad!.toFloat64())).toEqual([11, 11, 11]);
      expect(Array.from(b.grad!.toFloat64())).toEqual([1, 1, 1]);
    });
  });

  test('slice gradient: g inside the range, zeros before and after it (in a reused, dirty buffer)', () => {
    T.tidy(() => {
      for (const [axis, start, end] of [[1, 1, 3], [1, 0, 2], [1, 2, 4], [0, 1, 2], [2, 1, 2]]) {
        T.full([2, 4, 3], 7).dispose();   // the caching allocator hands this block to the gradient next
        const x = T.zeros([2, 4, 3]).requiresGrad_();
        const s = T.slice(x, axis, start, end);
        const g = T.Tensor.fromArray(Array.from({ length: s.size }, (_, i) => i + 1), s.shape);
        s.backward(g);
        const want = new Float64Array(24);
        const dims = [2, 4, 3], sh = [...dims];
        sh[axis] = end - start;
        let k = 0;
        for (let i = 0; i < sh[0]; i++) for (let j = 0; j < sh[1]; j++) for (let l = 0; l < sh[2]; l++) {
          const idx = [i, j, l];
          idx[axis] += start;
          want[(idx[0] * 4 + idx[1]) * 3 + idx[2]] = ++k;
        }
        expect(Array.from(x.grad!.toFloat64())).toEqual(Array.from(want));
      }
    });
  });

  test('a gradient passed to backward() on a leaf is copied, not taken over', () => {
    T.tidy(() => {
      const a = T.Tensor.fromArray([1, 2], [2]).requiresGrad_();
      const g = T.Tensor.fromArray([3, 4], [2]);
      a.backward(g);
      T.addInPlace(g, g.detach());
      expect(Array.from(a.grad!.toFloat64())).toEqual([3, 4]);
    });
  });
});
