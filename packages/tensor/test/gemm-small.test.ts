// The small-M fp32 GEMM path of cpu/gemm (x @ W^T with few rows of x, see native gemm_small.h) against
// a float64 reference and against the BLAS path (STELLAR_SMALL_GEMM=0) over many shapes and layouts.
import * as T from '@stellar/tensor';
import { rng } from './util/ref';

/** Host values of a (rows, cols) matrix and its float64 product ref[m][n] = sum_k a[m][k] * w[n][k]. */
function refProduct(a: Float64Array, w: Float64Array, M: number, N: number, K: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += a[m * K + k] * w[n * K + k];
    out[m * N + n] = s;
  }
  return out;
}

function rand(shape: number[], r: () => number): T.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return T.tensor(Float32Array.from({ length: n }, () => r() * 2 - 1), { shape });
}

function withBlas<R>(f: () => R): R {
  process.env.STELLAR_SMALL_GEMM = '0';
  try { return f(); } finally { delete process.env.STELLAR_SMALL_GEMM; }
}

function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, K: number, what: string): void {
  expect(got.length).toBe(want.length);
  // fp32 summation of K products of values in [-1, 1]: error grows ~ sqrt(K) * eps
  const tol = 4e-7 * Math.max(1, K);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  if (!(worst <= tol)) throw new Error(`${what}: max error ${worst} > ${tol}`);
}

describe('small-M GEMM (x @ W^T)', () => {
  const r = rng(7);
  const Ks = [1, 3, 16, 17, 63, 256, 300];
  const Ns = [1, 5, 8, 9, 33, 130];

  test('M 1..20 x odd K/N against float64 and against the BLAS path', () => {
    for (let M = 1; M <= 20; M++) {
      const K = Ks[M % Ks.length], N = Ns[(M * 3) % Ns.length];
      T.tidy(() => {
        const x = rand([M, K], r), w = rand([N, K], r);
        const want = refProduct(x.toFloat64(), w.toFloat64(), M, N, K);
        const y = T.matmul(x, T.transpose(w));
        expectNear(y.toFloat64(), want, K, `M=${M} K=${K} N=${N}`);
        const yb = withBlas(() => T.matmul(x, T.transpose(w)));
        expectNear(y.toFloat64(), yb.toFloat64(), K, `vs BLAS M=${M} K=${K} N=${N}`);
      });
    }
  });

  test('a large N splits over the pool and still matches', () => {
    T.tidy(() => {
      const M = 3, K = 257, N = 2100;
      const x = rand([M, K], r), w = rand([N, K], r);
      expectNear(T.matmul(x, T.transpose(w)).toFloat64(), refProduct(x.toFloat64(), w.toFloat64(), M, N, K), K, 'split');
    });
  });

  test('transposed x, strided rows of x and W, batched W', () => {
    T.tidy(() => {
      const M = 5, K = 37, N = 19;
      // x given as the transpose of a (K, M) matrix
      const xt = rand([K, M], r);
      const x = T.transpose(xt);
      const w = rand([N, K], r);
      const want = refProduct(T.contiguous(x).toFloat64(), w.toFloat64(), M, N, K);
      expectNear(T.matmul(x, T.transpose(w)).toFloat64(), want, K, 'transposed x');
      // rows of x and of W taken from wider matrices (leading dimension > K)
      const xw = rand([M, K + 6], r), ww = rand([N, K + 3], r);
      const xs = T.slice(xw, -1, 2, K + 2), ws = T.slice(ww, -1, 1, K + 1);
      const want2 = refProduct(T.contiguous(xs).toFloat64(), T.contiguous(ws).toFloat64(), M, N, K);
      expectNear(T.matmul(xs, T.transpose(ws)).toFloat64(), want2, K, 'strided rows');
      // a batch of different weights: (B, M, K) @ (B, K, N) views of (B, N, K)
      const B = 3, xb = rand([B, M, K], r), wb = rand([B, N, K], r);
      const yb = T.matmul(xb, T.transpose(wb)).toFloat64();
      const xv = xb.toFloat64(), wv = wb.toFloat64();
      for (let b = 0; b < B; b++) {
        const want3 = refProduct(xv.subarray(b * M * K, (b + 1) * M * K), wv.subarray(b * N * K, (b + 1) * N * K), M, N, K);
        expectNear(yb.subarray(b * M * N, (b + 1) * M * N), want3, K, `batch ${b}`);
      }
    });
  });

  test('alpha, beta and a strided C through the kernel arguments', () => {
    T.tidy(() => {
      const M = 4, K = 29, N = 11, ldc = 16, alpha = 0.5, beta = -2;
      const a = rand([M, K], r), w = rand([N, K], r), c0 = rand([M, ldc], r);
      const c = c0.clone();
      T.kernelArgs.begin().num(alpha).num(beta)
        .view(a, [1, M, K], [0, K, 1], a.offset)
        .view(w, [1, K, N], [0, 1, K], w.offset)
        .view(c, [1, M, N], [0, ldc, 1], c.offset)
        .run('cpu', 'gemm');
      const p = refProduct(a.toFloat64(), w.toFloat64(), M, N, K);
      const before = c0.toFloat64(), after = c.toFloat64();
      const got: number[] = [], want: number[] = [];
      for (let m = 0; m < M; m++) for (let j = 0; j < ldc; j++) {
        got.push(after[m * ldc + j]);
        want.push(j < N ? alpha * p[m * N + j] + beta * before[m * ldc + j] : before[m * ldc + j]);  // past N: untouched
      }
      expectNear(got, want, K, 'alpha/beta');
    });
  });
});
