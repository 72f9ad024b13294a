// CUDA backend: which kernels each build has, the typed errors when there is no device, and a
// CUDA-vs-CPU conformance suite that runs when a device is present (a GPU, or the CPU emulator
// build, see CUDA.md) and is skipped, saying why, otherwise.
import { native, kernel, buildInfo, cudaDeviceCount, allocBuffer, memStats, DEVICE_CPU, DEVICE_CUDA, CudaNotCompiled, CudaUnavailable } from '../src';
import * as T from '@stellar/tensor';

const compiled = buildInfo().cudaCompiled;
const devices = cudaDeviceCount();
const names = native.kernels();

// CPU kernels without a CUDA twin yet (each one is listed in CUDA.md). Keep it explicit and short.
const NO_CUDA_TWIN_YET = new Set<string>([]);

describe('CUDA build', () => {
  test(`kernel twins (${compiled ? 'compiled with nvcc' : 'built without CUDA'})`, () => {
    const cpu = names.filter((n) => n.startsWith('cpu/')).map((n) => n.slice(4));
    const cuda = names.filter((n) => n.startsWith('cuda/')).map((n) => n.slice(5));
    expect(cpu.length).toBeGreaterThan(10);
    if (!compiled) {
      expect(cuda).toEqual([]);
      expect(devices).toBe(0);
      return;
    }
    expect(cpu.filter((n) => !cuda.includes(n) && !NO_CUDA_TWIN_YET.has(n))).toEqual([]);
    expect(cuda.filter((n) => !cpu.includes(n))).toEqual([]);  // and every CUDA kernel has a CPU twin
    expect([...NO_CUDA_TWIN_YET].filter((n) => cuda.includes(n))).toEqual([]);  // no stale exceptions
  });
});

const noDevice = devices === 0 ? describe : describe.skip;
noDevice('without a CUDA device', () => {
  const Expected = compiled ? CudaUnavailable : CudaNotCompiled;
  const code = compiled ? 'ERR_CUDA_UNAVAILABLE' : 'ERR_CUDA_NOT_COMPILED';
  const hint = compiled ? /no usable GPU/ : /without CUDA/;

  test('allocBuffer(.., DEVICE_CUDA) raises the typed error; CPU allocations keep working', () => {
    const before = memStats().liveBuffers;
    for (let i = 0; i < 2; i++) {  // the second request fails the same way (no half-initialized state)
      let err: unknown;
      try { allocBuffer(16, DEVICE_CUDA); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(Expected);
      expect((err as { code: string }).code).toBe(code);
      expect((err as Error).message).toMatch(hint);
      expect((err as Error).message).toMatch(/cpu/);
    }
    expect(memStats().liveBuffers).toBe(before);
    const h = allocBuffer(16, DEVICE_CPU);
    native.write(h, 0, new Float32Array([1, 2, 3, 4]));
    const back = new Float32Array(4);
    native.readInto(h, 0, back);
    native.free(h);
    expect(Array.from(back)).toEqual([1, 2, 3, 4]);
  });

  test('the tensor layer raises the same typed error', () => {
    expect(() => T.Tensor.empty([2], { device: 'cuda' })).toThrow(Expected);
    expect(() => T.tensor([1], { device: 'cuda' })).toThrow(Expected);
    expect(() => T.zeros([2, 3], { device: 'cuda' })).toThrow(Expected);
    expect(() => T.randn([4], { device: 'cuda' })).toThrow(Expected);
    const x = T.tensor([1, 2, 3]);
    expect(() => x.to('cuda')).toThrow(Expected);
    expect(Array.from(T.mul(x, 2).toFloat64())).toEqual([2, 4, 6]);
    x.dispose();
  });

  (compiled ? test : test.skip)('cuda/ kernels refuse tensors that live on the CPU', () => {
    const x = T.tensor([1, 2, 3]), y = T.empty([3]);
    const a = new Float64Array([0, 0, 0, x.storage.handle, 0, 0, 1, 3, 1, y.storage.handle, 0, 0, 1, 3, 1]);
    let err: unknown;
    try { native.exec(kernel('cuda/unary'), a); } catch (e) { err = e; }
    expect((err as { code: string }).code).toBe('ERR_DEVICE_MISMATCH');
    x.dispose(); y.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------
// Conformance: the same op on CUDA and on the CPU, same inputs; results (and gradients) must agree.

type Dev = T.Device;
let seed = 1;
const gen = () => new T.Generator(seed++);
const randn = (shape: number[], scale = 1): T.Tensor => T.randn(shape, { generator: gen(), std: scale });
const uniform = (shape: number[], low: number, high: number): T.Tensor => T.rand(shape, { generator: gen(), low, high });

function expectClose(got: T.Tensor, want: T.Tensor, atol = 1e-5, rtol = 1e-5): void {
  expect(got.device).toBe('cuda');
  expect(want.device).toBe('cpu');
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe(want.dtype);
  const g = got.toFloat64(), w = want.toFloat64();
  const bad: string[] = [];
  for (let i = 0; i < w.length; i++) {
    const same = g[i] === w[i] || (Number.isNaN(g[i]) && Number.isNaN(w[i]));
    if (!same && !(Math.abs(g[i] - w[i]) <= atol + rtol * Math.abs(w[i]))) bad.push(`[${i}] cuda ${g[i]} cpu ${w[i]}`);
  }
  expect(bad.slice(0, 5)).toEqual([]);
}

/** Runs f on CPU copies and on CUDA copies of the inputs; compares outputs and input gradients. */
function conform(inputs: T.Tensor[], f: (...xs: T.Tensor[]) => T.Tensor, tol: { atol?: number; rtol?: number; grad?: boolean } = {}): void {
  const gradSeed = seed++;  // the same upstream gradient on both devices
  T.tidy(() => {
    const run = (dev: Dev) => {
      const xs = inputs.map((x) => {
        const t = dev === 'cuda' ? x.to('cuda') : x.clone();
        return tol.grad !== false && T.isFloat(t.dtype) ? t.requiresGrad_() : t;
      });
      const y = f(...xs);
      let grads: (T.Tensor | null)[] = [];
      if (tol.grad !== false && y.requiresGrad) {
        const g = T.randn(y.shape, { generator: new T.Generator(gradSeed) });
        y.backward(dev === 'cuda' ? g.to('cuda') : g);
        grads = xs.map((x) => x.grad);
      }
      return { y, grads };
    };
    const c = run('cpu'), g = run('cuda');
    expectClose(g.y, c.y, tol.atol, tol.rtol);
    c.grads.forEach((cg, i) => {
      if (cg) expectClose(g.grads[i]!, cg, tol.atol, tol.rtol);
      else expect(g.grads[i]).toBeNull();
    });
  });
}

const gpu = devices > 0 ? describe : describe.skip;
const why = devices > 0 ? '' : ` — skipped: ${compiled ? 'no CUDA device on this machine' : 'built without CUDA'}`;

gpu(`CUDA vs CPU conformance${why}`, () => {
  test('host <-> device copies round-trip every dtype', () => {
    for (const dtype of ['float32', 'bfloat16', 'float16', 'int32', 'int64', 'bool', 'int8'] as const) {
      const c = T.tensor([0, 1, -2, 3, 4.5, 1, 0, 7].map((v) => (dtype === 'bool' ? Number(v !== 0) : v)), { dtype });
      const g = c.to('cuda');
      expect(g.device).toBe('cuda');
      expect(Array.from(g.toFloat64())).toEqual(Array.from(c.toFloat64()));
      T.dispose([c, g]);
    }
  });

  test('copy / cast between every pair of dtypes, strided and transposed', () => {
    const vals = [0, 1, -1, 2.5, -3, 100, 1.00390625, 1.0009765625, 65504, -0.5, 3e-5, 7, 1e6, -1e-3, 0.1, 255];
    const dtypes = ['float32', 'bfloat16', 'float16', 'int32', 'int64', 'bool', 'int8'] as const;
    for (const from of dtypes) {
      for (const to of dtypes) {
        // int8 sources hold the values clamped to their range; casts into int8 see the out-of-range ones (saturation)
        const base = T.tensor(vals.map((v) => (from === 'bool' ? Number(v > 0) : from === 'int8' ? Math.max(-128, Math.min(127, Math.trunc(v)))
          : from.startsWith('int') ? Math.trunc(v) : v)), { dtype: from, shape: [4, 4] });
        conform([base], (x) => T.cast(T.transpose(x), to), { grad: false, atol: 0, rtol: 0 });
        conform([base], (x) => T.contiguous(T.slice(x, 1, 0, 4, 2)), { grad: false, atol: 0, rtol: 0 });
        base.dispose();
      }
    }
  });

  test('full / fill / arange / concat for each dtype', () => {
    for (const dtype of ['float32', 'bfloat16', 'float16', 'int32', 'int64', 'bool', 'int8'] as const) {
      T.tidy(() => {
        expectClose(T.full([3, 5], 2.5, { dtype, device: 'cuda' }), T.full([3, 5], 2.5, { dtype }), 0, 0);
        expectClose(T.arange(-3, 9, 2, { dtype, device: 'cuda' }), T.arange(-3, 9, 2, { dtype }), 0, 0);
      });
    }
    const a = randn([2, 3]), b = randn([2, 5]);
    conform([a, b], (x, y) => T.concat([x, y], 1));
    T.dispose([a, b]);
  });

  const unaryCases: [string, (t: T.Tensor) => T.Tensor, [number, number]][] = [
    ['neg', T.neg, [-3, 3]], ['exp', T.exp, [-3, 3]], ['log', T.log, [0.1, 3]], ['sqrt', T.sqrt, [0.1, 3]],
    ['rsqrt', T.rsqrt, [0.2, 3]], ['abs', T.abs, [-3, 3]], ['sigmoid', T.sigmoid, [-4, 4]], ['tanh', T.tanh, [-3, 3]],
    ['relu', T.relu, [-3, 3]], ['silu', T.silu, [-4, 4]], ['gelu', T.gelu, [-3, 3]], ['gelu_tanh', (t) => T.gelu(t, 'tanh'), [-3, 3]],
    ['reciprocal', T.reciprocal, [0.5, 2]], ['square', T.square, [-3, 3]], ['sin', T.sin, [-3, 3]], ['cos', T.cos, [-3, 3]],
    ['powScalar', (t) => T.powScalar(t, 2.5), [0.2, 2]], ['affine', (t) => T.affine(t, -1.5, 0.25), [-3, 3]], ['sign', T.sign, [-3, 3]],
  ];
  test.each(unaryCases)('unary %s (+ backward) on contiguous and transposed views', (_name, f, [lo, hi]) => {
    const x = uniform([5, 7], lo, hi);
    conform([x], f);
    conform([x], (t) => f(T.transpose(t)));
    x.dispose();
  });

  test.each(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const)('binary %s with broadcasting (+ backward)', (name) => {
    const f = { add: T.add, sub: T.sub, mul: T.mul, div: T.div, pow: T.pow, maximum: T.maximum, minimum: T.minimum }[name];
    const pos = name === 'pow' || name === 'div';
    const a = pos ? uniform([4, 1, 6], 0.5, 2) : randn([4, 1, 6]);
    const b = pos ? uniform([3, 1], 0.5, 2) : randn([3, 1]);
    conform([a, b], (x, y) => f(x, y));
    conform([a, a], (x, y) => f(T.transpose(x, 0, 2), T.transpose(y, 0, 2)));
    T.dispose([a, b]);
  });

  test('compare and where', () => {
    const a = T.tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] }), b = T.tensor([3, 2, 1], { shape: [3] });
    for (const f of [T.eq, T.ne, T.lt, T.le, T.gt, T.ge]) conform([a, b], (x, y) => f(x, y), { grad: false, atol: 0, rtol: 0 });
    const x = randn([2, 3]), y = randn([1, 3]);
    conform([a, b, x, y], (p, q, u, v) => T.where(T.gt(p, q), u, v));
    T.dispose([a, b, x, y]);
  });

  test('reductions over inner, outer, several and all axes (+ backward)', () => {
    const x = randn([6, 5, 7]);
    for (const axes of [[2], [0], [1], [0, 2], [0, 1, 2]]) {
      conform([x], (t) => T.sum(t, axes));
      conform([x], (t) => T.mean(t, axes, true));
      conform([x], (t) => T.max(t, axes));
      conform([x], (t) => T.min(t, axes));
      conform([x], (t) => T.logsumexp(t, axes));
    }
    const tall = randn([300, 9]);  // column sums: kept dims contiguous, reduced dim outer
    conform([tall], (t) => T.sum(t, 0));
    conform([tall], (t) => T.max(T.transpose(t), 1));
    T.dispose([x, tall]);
  });

  test('argmax / argmin / max resolve ties to the first index and propagate NaN like the CPU', () => {
    const v = [1, 3, 3, 0, -1, -1, 2, 2, NaN, 5, NaN, 0, -Infinity, -Infinity, -Infinity, 4, 4, 4, 4, 4];
    const x = T.tensor(v, { shape: [5, 4] });
    for (const f of [T.argmax, T.argmin]) {
      conform([x], (t) => f(t, 1), { grad: false, atol: 0, rtol: 0 });
      conform([x], (t) => f(t, 0), { grad: false, atol: 0, rtol: 0 });
    }
    conform([x], (t) => T.max(t, 1), { grad: false, atol: 0, rtol: 0 });
    conform([x], (t) => T.logsumexp(t, 1), { grad: false });
    const wide = T.tensor(Array.from({ length: 3 * 1000 }, (_, i) => (i % 97 === 0 ? 9 : (i % 13) - 6)), { shape: [3, 1000] });
    conform([wide], (t) => T.argmax(t, 1), { grad: false, atol: 0, rtol: 0 });
    T.dispose([x, wide]);
  });

  test('softmax / logSoftmax (+ backward), including masked rows', () => {
    const x = randn([6, 37], 3);
    conform([x], (t) => T.softmax(t));
    conform([x], (t) => T.logSoftmax(t));
    conform([x], (t) => T.softmax(t, 0));
    const long = randn([2, 1500]);
    conform([long], (t) => T.logSoftmax(t));
    const masked = T.tensor([-Infinity, -Infinity, -Infinity, 1, -Infinity, 2], { shape: [2, 3] });
    conform([masked], (t) => T.softmax(t), { grad: false });
    conform([masked], (t) => T.logSoftmax(t), { grad: false });
    T.dispose([x, long, masked]);
  });

  const gemmPaths = [['cuBLAS when available', undefined], ['tiled kernel', '0']] as const;
  describe.each(gemmPaths)('matmul through the %s', (_label, env) => {
    const saved = process.env.STELLAR_CUBLAS;
    beforeAll(() => { if (env === undefined) delete process.env.STELLAR_CUBLAS; else process.env.STELLAR_CUBLAS = env; });
    afterAll(() => { if (saved === undefined) delete process.env.STELLAR_CUBLAS; else process.env.STELLAR_CUBLAS = saved; });

    test('float32: edges of the tiles, transposes, batch broadcast (+ backward)', () => {
      const a = randn([2, 70, 33]), at = randn([2, 33, 70]), b = randn([33, 65]), bt = randn([2, 65, 33]), w = randn([3, 1, 33, 5]);
      conform([a, b], (x, y) => T.matmul(x, y), { atol: 1e-4, rtol: 1e-4 });
      conform([a, bt], (x, y) => T.matmul(x, T.transpose(y)), { atol: 1e-4, rtol: 1e-4 });
      conform([at, b], (x, y) => T.matmul(T.transpose(x), y), { atol: 1e-4, rtol: 1e-4 });
      conform([at, bt], (x, y) => T.matmul(T.transpose(x), T.transpose(y)), { atol: 1e-4, rtol: 1e-4 });
      conform([a, w], (x, y) => T.matmul(T.unsqueeze(x, 0), y), { atol: 1e-4, rtol: 1e-4 });
      T.dispose([a, at, b, bt, w]);
    });

    test('bfloat16 inputs accumulate in float32', () => {
      // Reference: the CPU's float32 GEMM of the same bf16-rounded values (exact in float32), which
      // also keeps this test independent of the CPU's bf16 BLAS path.
      T.tidy(() => {
        const a = T.cast(randn([3, 17, 40]), 'bfloat16'), b = T.cast(randn([40, 9]), 'bfloat16');
        const want = T.matmul(T.cast(a, 'float32'), T.cast(b, 'float32'));
        expectClose(T.matmul(a.to('cuda'), b.to('cuda')), want, 1e-4, 1e-4);
      });
    });

    test('K = 0 gives zeros', () => {
      const a = T.zeros([4, 0]), b = T.zeros([0, 3]);
      conform([a, b], (x, y) => T.matmul(x, y), { grad: false, atol: 0, rtol: 0 });
      T.dispose([a, b]);
    });
  });

  test('int8 weight-only GEMM (matmulW8): decode and prefill row counts, odd K / N', () => {
    for (const [M, K, N] of [[1, 33, 10], [5, 64, 17], [20, 7, 70]]) {
      const x = randn([M, K]);
      const w = T.quantizeInt8(randn([N, K]));
      conform([x, w.q, w.scale], (a, q, s) => T.matmulW8(a, { q, scale: s }), { grad: false, atol: 1e-4, rtol: 1e-4 });
      T.dispose([x, w.q, w.scale]);
    }
  });

  test('indexSelect / embedding / gather (+ backward with repeated ids)', () => {
    const w = randn([10, 6]);
    for (const dtype of ['int32', 'int64'] as const) {
      const ids = T.tensor([3, 0, 9, 3, -1, 3], { dtype });
      conform([w, ids], (x, i) => T.indexSelect(x, 0, i));
      conform([w, ids], (x, i) => T.indexSelect(x, 1, T.tensor([5, 0, 5], { dtype, device: i.device })));
      conform([w, ids], (x, i) => T.embedding(x, T.reshape(i, [2, 3])));
      const gi = T.tensor([1, 1, 0, 5, 9, 9, 9, 2, 4, 3, 0, 8], { dtype, shape: [2, 6] });
      conform([w, gi], (x, i) => T.gather(T.reshape(x, [2, 30]), 1, i));
      conform([w, gi], (x, i) => T.gather(x, 0, i));
      T.dispose([ids, gi]);
    }
    w.dispose();
  });

  test('out-of-range indices raise ERR_INDEX_OUT_OF_RANGE on CUDA too', () => {
    const w = randn([4, 3]).to('cuda');
    const bad = T.tensor([0, 4], { dtype: 'int64', device: 'cuda' });
    const codeOf = (f: () => unknown) => { try { f(); } catch (e) { return (e as { code?: string }).code; } return 'no error'; };
    expect(codeOf(() => T.indexSelect(w, 0, bad))).toBe('ERR_INDEX_OUT_OF_RANGE');
    expect(codeOf(() => T.gather(w, 1, T.tensor([[0], [3], [1], [2]], { dtype: 'int32', device: 'cuda' })))).toBe('ERR_INDEX_OUT_OF_RANGE');
    expect(Array.from(T.indexSelect(w, 0, T.tensor([1], { dtype: 'int64', device: 'cuda' })).toFloat64()).length).toBe(3);  // still usable
    T.dispose([w, bad]);
  });

  test('random streams: same generator state, same numbers on both devices', () => {
    const draw = (dev: Dev) => {
      const g = new T.Generator(42);
      return [T.rand([1001], { generator: g, device: dev, low: -2, high: 3 }), T.randn([999], { generator: g, device: dev }),
        T.dropoutMask([513], 0.3, { generator: g, device: dev })];
    };
    const c = draw('cpu'), g = draw('cuda');
    expectClose(g[0], c[0], 0, 0);  // uniform and bernoulli are exact integer/float arithmetic on both
    expectClose(g[1], c[1], 1e-5, 1e-5);  // normal goes through logf/cosf/sinf, which may differ by an ulp
    expectClose(g[2], c[2], 0, 0);
    T.dispose([...c, ...g]);
  });

  test('multinomial draws the same samples and rejects bad weights', () => {
    const p = T.softmax(randn([4, 300], 2));
    const draw = (dev: Dev) => T.multinomial(dev === 'cuda' ? p.to('cuda') : p, 25, { generator: new T.Generator(7) });
    expectClose(draw('cuda'), draw('cpu'), 0, 0);
    const zeros = T.tensor([0, 1, 0, 2, 0, 0, 0, 0], { shape: [2, 4], device: 'cuda' });
    expect(() => T.multinomial(zeros, 1)).toThrow(/sums to zero/);
    expect(() => T.multinomial(T.tensor([1, -1, 2], { device: 'cuda' }), 1)).toThrow(/non-negative/);
    const sparse = T.tensor([0, 0, 3, 0, 1, 0], { device: 'cuda' });
    const s = Array.from(T.multinomial(sparse, 200, { generator: new T.Generator(3) }).toFloat64());
    expect(s.every((i) => i === 2 || i === 4)).toBe(true);
    T.dispose([p, zeros, sparse]);
  });
  test('fused SwiGLU, RMSNorm and RoPE (+ backward)', () => {
    const g = randn([3, 5, 8]), u = randn([3, 5, 8]);
    conform([g, u], (a, b) => T.swiglu(a, b));
    conform([g, u], (a, b) => T.swiglu(T.transpose(a, 0, 2), T.transpose(b, 0, 2)));
    const x = randn([4, 6, 300]), w = uniform([300], 0.5, 1.5);
    conform([x, w], (a, b) => T.rmsNorm(a, b, 1e-5));
    conform([x, w], (a, b) => T.rmsNorm(T.slice(a, 1, 1, 5), b));
    const q = randn([2, 3, 5, 8]);
    const shared = T.tensor([0, 1, 2, 3, 4], { dtype: 'int64' });
    const perBatch = T.tensor([[3, 4, 5, 6, 7], [0, 2, 4, 6, 8]], { dtype: 'int32' });
    conform([q, shared], (a, p) => T.applyRotary(a, p));
    conform([q, perBatch], (a, p) => T.applyRotary(T.transpose(T.transpose(a, 1, 2), 1, 2), p, { theta: 500000, scaling: { type: 'linear', factor: 2 } }));
    conform([q, perBatch], (a, p) => T.applyRotary(a, p, { xpos: { scaleBase: 64 }, xposKind: 'key' }));
    T.dispose([g, u, x, w, q, shared, perBatch]);
  });

  test('fused cross-entropy (+ backward): reductions, ignore_index, label smoothing, bad targets', () => {
    const logits = randn([7, 300], 3);
    const targets = T.tensor([3, -100, 299, 0, 150, 3, -100], { dtype: 'int64' });
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      conform([logits, targets], (l, t) => T.crossEntropy(l, t, { reduction }), { atol: 2e-5, rtol: 2e-5 });
      conform([logits, targets], (l, t) => T.crossEntropy(l, t, { reduction, labelSmoothing: 0.1 }), { atol: 2e-5, rtol: 2e-5 });
    }
    const l = logits.to('cuda');
    const bad = T.tensor([3, 300, 0, 0, 0, 0, 0], { dtype: 'int32', device: 'cuda' });
    let code = 'no error';
    try { T.crossEntropy(l, bad); } catch (e) { code = (e as { code: string }).code; }
    expect(code).toBe('ERR_OUT_OF_BOUNDS');
    T.dispose([logits, targets, l, bad]);
  });

  test('fused AdamW steps update params and moments like the CPU', () => {
    const shapes = [[5, 7], [300], [1]];
    const run = (dev: Dev) => {
      const mk = (s: number[], k: number) => { const t = T.randn(s, { generator: new T.Generator(100 + k) }); return dev === 'cuda' ? t.to('cuda') : t; };
      const p = shapes.map((s, i) => mk(s, i)), m = shapes.map((s) => T.zeros(s, { device: dev })), v = shapes.map((s) => T.zeros(s, { device: dev }));
      for (let step = 1; step <= 3; step++) {
        const g = shapes.map((s, i) => mk(s, 10 * step + i));
        T.adamwStep(p, g, m, v, { lr: 1e-2, step, weightDecay: [0.1, 0, 0.01] });
        T.dispose(g);
      }
      return [...p, ...m, ...v];
    };
    const c = run('cpu'), g = run('cuda');
    g.forEach((t, i) => expectClose(t, c[i], 1e-6, 1e-5));
    T.dispose([...c, ...g]);
  });

  test('fused attention (+ backward): causal with a KV-cache offset, GQA, key padding, strided inputs', () => {
    const q = randn([2, 4, 5, 8]), k = randn([2, 2, 7, 8]), v = randn([2, 2, 7, 8]);
    const mask = T.tensor([[1, 1, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]], { dtype: 'bool' });
    const tol = { atol: 1e-4, rtol: 1e-4 };
    conform([q, k, v], (a, b, c) => T.scaledDotProductAttention(a, b, c, { causal: true }), tol);
    conform([q, k, v], (a, b, c) => T.scaledDotProductAttention(a, b, c), tol);
    conform([q, k, v, mask], (a, b, c, m) => T.scaledDotProductAttention(a, b, c, { causal: true, keyPaddingMask: m, scale: 0.3 }), tol);
    const qt = randn([2, 5, 4, 8]);  // (B, T, H, D) viewed as (B, H, T, D): strided q
    conform([qt, k, v], (a, b, c) => T.scaledDotProductAttention(T.transpose(a, 1, 2), b, c, { causal: true }), tol);
    T.dispose([q, k, v, mask, qt]);
  });

  test('fused attention (+ backward) with segment ids: packed rows, ids not contiguous, KV offset, padding', () => {
    const q = randn([2, 4, 7, 8]), k = randn([2, 2, 7, 8]), v = randn([2, 2, 7, 8]);
    const seg = T.tensor([[0, 0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 0, 0, 9]], { dtype: 'int32' });
    const mask = T.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0]], { dtype: 'bool' });
    const tol = { atol: 1e-4, rtol: 1e-4 };
    conform([q, k, v, seg], (a, b, c, s) => T.scaledDotProductAttention(a, b, c, { causal: true, segmentIds: s }), tol);
    conform([q, k, v, seg, mask], (a, b, c, s, m) => T.scaledDotProductAttention(a, b, c, { segmentIds: s, keyPaddingMask: m }), tol);
    const q3 = randn([2, 4, 3, 8]);  // the last 3 of 7 positions query (KV-cache offset)
    conform([q3, k, v, seg, mask], (a, b, c, s, m) => T.scaledDotProductAttention(a, b, c, { causal: true, segmentIds: s, keyPaddingMask: m }), tol);
    T.dispose([q, k, v, seg, mask, q3]);
  });
});
