// bf16 x bf16 -> fp32 GEMM (csrc/cpu/bf16_gemm*.cc) on both code paths — AVX512_BF16 dot products when
// the CPU has them, and the widening fallback forced with STELLAR_BF16_GEMM=widen — against a float64
// reference of the bf16-rounded inputs: odd sizes, all transpose combinations, padded leading
// dimensions, batches, alpha/beta, determinism across thread counts.
import { Worker, SHARE_ENV } from 'node:worker_threads';
import * as T from '@stellar/tensor';

const EPS32 = 2 ** -23;
const SIZES = [1, 2, 7, 15, 16, 17, 33, 64, 100, 257];
const hasDpbf16 = T.cpuFeatures().avx512bf16 && T.cpuFeatures().avx512f && T.cpuFeatures().avx512bw;

/**
 * Sets a variable in the real process environment, which the addon reads with getenv on every call.
 * Jest hands tests a copy of process.env; a worker started with SHARE_ENV writes the real one.
 */
function setRealEnv(name: string, value: string | undefined): Promise<void> {
  const code = value === undefined ? `delete process.env[${JSON.stringify(name)}];`
    : `process.env[${JSON.stringify(name)}] = ${JSON.stringify(value)};`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, env: SHARE_ENV });
    w.on('error', reject);
    w.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`env worker exited with ${c}`))));
  });
}
const originalMode = process.env.STELLAR_BF16_GEMM;
const usePath = (path: 'dpbf16' | 'widen') => setRealEnv('STELLAR_BF16_GEMM', path === 'widen' ? 'widen' : undefined);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {  // mulberry32, uniform in [0, 1)
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Gen = (r: () => number) => number;
const normalish: Gen = (r) => (r() + r() + r() - 1.5) * 2;         // spread over a few binades
const smallInt: Gen = (r) => Math.floor(r() * 9) - 4;              // products and sums exact in fp32

function fill(n: number, gen: Gen, r: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = gen(r);
  return out;
}

/** A bf16 tensor of the given stored shape, plus its padding: stored [rows, cols + pad] sliced to cols. */
function bf16Stored(rows: number, cols: number, pad: number, gen: Gen, r: () => number): T.Tensor {
  const data = fill(rows * (cols + pad), gen, r);
  const full = T.tensor(data, { shape: [rows, cols + pad] }).cast('bfloat16');
  if (pad === 0) return full;
  const v = T.slice(full, 1, 0, cols);
  full.dispose();
  return v;
}

/** op(X) as a (rows, cols) view: stored (rows, cols), or stored (cols, rows) and transposed. */
function operand(rows: number, cols: number, trans: boolean, pad: number, gen: Gen, r: () => number): T.Tensor {
  if (!trans) return bf16Stored(rows, cols, pad, gen, r);
  const s = bf16Stored(cols, rows, pad, gen, r);
  const t = T.transpose(s);
  s.dispose();
  return t;
}

/** Float64 C = A B and sum_k |A_ik B_kj| for (M, K) @ (K, N) given as row-major arrays. */
function reference(a: Float64Array, b: Float64Array, M: number, K: number, N: number) {
  const c = new Float64Array(M * N), mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const x = a[i * K + k];
      for (let j = 0; j < N; j++) {
        const p = x * b[k * N + j];
        c[i * N + j] += p;
        mag[i * N + j] += p < 0 ? -p : p;  // Math.abs is not inlined inside jest's sandbox: 50x slower here
      }
    }
  }
  return { c, mag };
}

/** Largest error relative to the fp32-accumulation tolerance 2 sqrt(K) eps sum|ab| (pass: <= 1). */
function worstRatio(got: ArrayLike<number>, want: Float64Array, mag: Float64Array, K: number, extra?: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const tol = 2 * Math.sqrt(K + 1) * EPS32 * (mag[i] + (extra ? extra[i] : 0)) + 1e-30;
    const err = Math.abs(got[i] - want[i]);
    worst = Math.max(worst, Number.isNaN(err) ? Infinity : err / tol);
  }
  return worst;
}

interface Case { M: number; N: number; K: number; ta: boolean; tb: boolean; pad: number }
function checkMatmul(c: Case, seed: number, gen: Gen = normalish, exact = false): void {
  const r = rng(seed);
  const a = operand(c.M, c.K, c.ta, c.pad, gen, r), b = operand(c.K, c.N, c.tb, c.pad, gen, r);
  const y = T.matmul(a, b);
  const label = `${c.M}x${c.K}x${c.N} ${c.ta ? 'Aᵀ' : 'A'}${c.tb ? 'Bᵀ' : 'B'} pad ${c.pad}`;
  expect([label, y.dtype, y.shape]).toEqual([label, 'float32', [c.M, c.N]]);
  const { c: want, mag } = reference(a.toFloat64(), b.toFloat64(), c.M, c.K, c.N);
  const got = y.toFloat64();
  if (exact) {
    expect([label, Array.from(got)]).toEqual([label, Array.from(want)]);
  } else {
    const ratio = worstRatio(got, want, mag, c.K);  // shown in the diff when it fails
    expect({ label, ratio, ok: ratio <= 1 }).toMatchObject({ label, ok: true });
  }
  a.dispose(); b.dispose(); y.dispose();
}

/** Sizes from SIZES in every role, each paired with random others, cycling through the transposes. */
function sizeSweep(): Case[] {
  const r = rng(7);
  const pick = () => SIZES[Math.floor(r() * SIZES.length)];
  const out: Case[] = [];
  let t = 0;
  for (const s of SIZES) {
    for (const role of [0, 1, 2]) {
      const dims = [pick(), pick(), pick()];
      dims[role] = s;
      const [M, N, K] = dims;
      if (M * N * K > 3_000_000) dims[(role + 1) % 3] = 7;  // keeps the JS reference fast
      out.push({ M: dims[0], N: dims[1], K: dims[2], ta: (t & 1) === 1, tb: (t & 2) === 2, pad: t % 3 === 2 ? 3 : 0 });
      t++;
    }
  }
  return out;
}

/** Calls cpu/gemm directly for C = alpha A B + beta C with C a padded (M, N + 5) buffer. */
function gemmDirect(alpha: number, beta: number, a: T.Tensor, b: T.Tensor, c: T.Tensor, N: number): void {
  const [M, K] = a.shape;
  T.kernelArgs.begin().num(alpha).num(beta)
    .view(a, [1, M, K], [0, a.strides[0], a.strides[1]])
    .view(b, [1, K, N], [0, b.strides[0], b.strides[1]])
    .view(c, [1, M, N], [0, c.strides[0], 1])
    .run('cpu', 'gemm');
}

function suite(path: 'dpbf16' | 'widen'): void {
  beforeAll(() => usePath(path));
  afterAll(() => setRealEnv('STELLAR_BF16_GEMM', originalMode));

  test('sizes 1..257 in every role, all transpose combinations, padded leading dims', () => {
    sizeSweep().forEach((c, i) => checkMatmul(c, 100 + i));
  });

  test('shapes spanning several cache blocks of the kernel (rows > 588, columns > 3072, K > 512)', () => {
    const shapes = [[1201, 40, 30, false, true], [3, 3107, 21, true, false], [600, 33, 531, true, true], [17, 3100, 40, false, false]] as const;
    shapes.forEach(([M, N, K, ta, tb], i) => checkMatmul({ M, N, K, ta, tb, pad: i % 2 }, 50 + i));
  });

  test('all four transposes on odd K and edge tiles, small integers: exact', () => {
    let seed = 1;
    for (const [M, N, K] of [[15, 33, 17], [29, 65, 257], [1, 1, 1], [17, 31, 2]]) {
      for (const ta of [false, true]) for (const tb of [false, true]) checkMatmul({ M, N, K, ta, tb, pad: seed % 2 ? 2 : 0 }, seed++, smallInt, true);
    }
  });

  test('batched (transposed views) and broadcast (B, T, C) @ (C, N)', () => {
    const r = rng(3);
    const ab = T.tensor(fill(3 * 33 * 17, normalish, r), { shape: [3, 33, 17] }).cast('bfloat16');
    const bb = T.tensor(fill(3 * 15 * 33, normalish, r), { shape: [3, 15, 33] }).cast('bfloat16');
    const at = T.transpose(ab), bt = T.transpose(bb);  // (3, 17, 33) @ (3, 33, 15)
    const y = T.matmul(at, bt);
    expect(y.shape).toEqual([3, 17, 15]);
    const got = y.toFloat64(), av = at.toFloat64(), bv = bt.toFloat64();
    for (let i = 0; i < 3; i++) {
      const { c, mag } = reference(av.subarray(i * 17 * 33), bv.subarray(i * 33 * 15), 17, 33, 15);
      expect(worstRatio(got.subarray(i * 17 * 15, (i + 1) * 17 * 15), c, mag, 33)).toBeLessThanOrEqual(1);
    }
    const x = T.tensor(fill(2 * 9 * 65, normalish, r), { shape: [2, 9, 65] }).cast('bfloat16');
    const w = T.tensor(fill(65 * 40, normalish, r), { shape: [65, 40] }).cast('bfloat16');
    const z = T.matmul(x, w);  // (2, 9, 65) @ (65, 40): one (18, 65) @ (65, 40) GEMM
    const ref = reference(x.toFloat64(), w.toFloat64(), 18, 65, 40);
    expect(worstRatio(z.toFloat64(), ref.c, ref.mag, 65)).toBeLessThanOrEqual(1);
    for (const t of [ab, bb, at, bt, y, x, w, z]) t.dispose();
  });

  test('alpha, beta and a padded C (cpu/gemm called directly); beta = 0 never reads C', () => {
    const r = rng(11);
    for (const [M, N, K, ta, tb] of [[19, 37, 33, false, true], [14, 32, 300, true, false], [3, 70, 5, true, true]] as const) {
      const a = operand(M, K, ta, 0, normalish, r), b = operand(K, N, tb, 0, normalish, r);
      const c0 = fill(M * (N + 5), normalish, r);
      const { c: ab, mag } = reference(a.toFloat64(), b.toFloat64(), M, K, N);
      for (const [alpha, beta] of [[1.5, -0.5], [1, 1], [-2, 0]]) {
        const init = beta === 0 ? new Float32Array(c0.length).fill(NaN) : c0;
        const c = T.tensor(Float32Array.from(init), { shape: [M, N + 5] });
        gemmDirect(alpha, beta, a, b, c, N);
        const got = c.toFloat64();
        const want = new Float64Array(M * N), scaledMag = new Float64Array(M * N), cmag = new Float64Array(M * N);
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            want[i * N + j] = alpha * ab[i * N + j] + (beta === 0 ? 0 : beta * c0[i * (N + 5) + j]);
            scaledMag[i * N + j] = Math.abs(alpha) * mag[i * N + j];
            cmag[i * N + j] = beta === 0 ? 0 : Math.abs(beta * c0[i * (N + 5) + j]);
          }
        }
        const inside = Float64Array.from({ length: M * N }, (_, e) => got[Math.floor(e / N) * (N + 5) + (e % N)]);
        expect([M, N, K, alpha, beta, worstRatio(inside, want, scaledMag, K, cmag) <= 1]).toEqual([M, N, K, alpha, beta, true]);
        for (let i = 0; i < M; i++) {  // the 5 padding columns of each row stay as they were
          for (let j = N; j < N + 5; j++) expect(Object.is(got[i * (N + 5) + j], Math.fround(init[i * (N + 5) + j]))).toBe(true);
        }
        c.dispose();
      }
      a.dispose(); b.dispose();
    }
  });
}

const dpDescribe = hasDpbf16 ? describe : describe.skip;
dpDescribe(`dpbf16 path (AVX512_BF16)${hasDpbf16 ? '' : ' — SKIPPED: this CPU has no AVX512_BF16'}`, () => {
  suite('dpbf16');

  test('same bits on 1 and 2 threads (each C element summed by one thread in a fixed K order)', () => {
    const before = T.numThreads();
    const r = rng(5);
    const a = operand(300, 513, false, 0, normalish, r), b = operand(513, 200, true, 0, normalish, r);
    try {
      T.setNumThreads(1);
      const y1 = T.matmul(a, b);
      T.setNumThreads(2);
      const y2 = T.matmul(a, b);
      expect(Buffer.from((y2.data() as Float32Array).buffer).equals(Buffer.from((y1.data() as Float32Array).buffer))).toBe(true);
      y1.dispose(); y2.dispose();
    } finally {
      T.setNumThreads(before);
      a.dispose(); b.dispose();
    }
  });

  test('STELLAR_BF16_GEMM switches the kernel: both paths pass, with different fp32 summation orders', async () => {
    const r = rng(9);
    const a = operand(40, 1000, false, 0, normalish, r), b = operand(1000, 48, false, 0, normalish, r);
    const { c, mag } = reference(a.toFloat64(), b.toFloat64(), 40, 1000, 48);
    await usePath('widen');
    const yw = T.matmul(a, b);
    await usePath('dpbf16');
    const yd = T.matmul(a, b);
    const gw = yw.toFloat64(), gd = yd.toFloat64();
    expect(worstRatio(gw, c, mag, 1000)).toBeLessThanOrEqual(1);
    expect(worstRatio(gd, c, mag, 1000)).toBeLessThanOrEqual(1);
    let differ = 0;
    for (let i = 0; i < gw.length; i++) if (gw[i] !== gd[i]) differ++;
    expect(differ).toBeGreaterThan(0);  // identical bits would mean the switch did nothing
    for (const t of [a, b, yw, yd]) t.dispose();
  });
});

describe('widening path (STELLAR_BF16_GEMM=widen; the fallback without AVX512_BF16)', () => {
  suite('widen');
});
