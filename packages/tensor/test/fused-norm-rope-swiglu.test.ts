// Fused RMSNorm, RoPE (with linear/NTK scaling and XPos) and SwiGLU: forward vs float64 loop
// references, gradients vs finite differences, and fused == the same math composed from unfused ops.
import * as T from '@stellar/tensor';
import { checkOp, expectClose, toRef, type Layout } from './util/check-op';
import { Ref, rng, randRef } from './util/ref';

/** Runs fused and unfused on identical inputs and cotangent; outputs and input gradients must agree. */
function fusedEqualsUnfused(shapes: number[][], fused: (...xs: T.Tensor[]) => T.Tensor, unfused: (...xs: T.Tensor[]) => T.Tensor, tol = 1e-5): void {
  const r = rng(7);
  const data = shapes.map((s) => randRef(s, r, -2, 2));
  let w: Ref | null = null;
  const run = (f: (...xs: T.Tensor[]) => T.Tensor) => T.tidy(() => {
    const xs = data.map((d) => T.tensor(Float32Array.from(d.data), { shape: d.shape, requiresGrad: true }));
    const y = f(...xs);
    if (!w) w = randRef(y.shape, r);
    y.backward(T.tensor(Float32Array.from(w.data), { shape: w.shape }));
    return { y: toRef(y), grads: xs.map((x) => toRef(x.grad!)) };
  });
  const a = run(fused), b = run(unfused);
  expectClose(a.y, b.y, tol, tol, 'fused vs unfused output');
  a.grads.forEach((g, i) => expectClose(g, b.grads[i], tol, tol, `fused vs unfused gradient of input ${i}`));
}

// ---- RMSNorm -------------------------------------------------------------------------------------

function rmsNormRef(x: Ref, w: Ref, eps: number): Ref {
  const C = x.shape[x.ndim - 1], rows = x.size / C;
  const y = Ref.zeros(x.shape);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x.data[r * C + c] ** 2;
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y.data[r * C + c] = x.data[r * C + c] * inv * w.data[c];
  }
  return y;
}

describe('rmsNorm', () => {
  const cases: [number[], Layout][] = [
    [[3, 8], 'contiguous'], [[3, 8], 'transposed'], [[3, 8], 'strided'], [[3, 8], 'broadcast'],
    [[2, 3, 5], 'contiguous'], [[4, 1], 'contiguous'], [[1, 7], 'contiguous'], [[37, 3], 'contiguous'],
  ];
  for (const [shape, layout] of cases) {
    test(`[${shape}] ${layout} forward and gradients`, () => {
      const C = shape[shape.length - 1];
      checkOp({
        inputs: [{ shape, layout }, { shape: [C], range: [0.5, 1.5] }],
        ours: (x, w) => T.rmsNorm(x, w, 1e-5),
        ref: (x, w) => rmsNormRef(x, w, 1e-5),
      });
    });
  }

  test('fused == x * rsqrt(mean(x^2) + eps) * w (output, dx, dweight)', () => {
    fusedEqualsUnfused([[5, 6, 33], [33]], (x, w) => T.rmsNorm(x, w, 1e-6),
      (x, w) => T.mul(T.mul(x, T.rsqrt(T.add(T.mean(T.mul(x, x), -1, true), 1e-6))), w));
  });

  test('dweight over many rows is deterministic and matches the reference sum', () => {
    const r = rng(3);
    const xr = randRef([300, 16], r), wr = randRef([16], r), gr = randRef([300, 16], r);
    const once = () => T.tidy(() => {
      const x = T.tensor(Float32Array.from(xr.data), { shape: xr.shape, requiresGrad: true });
      const w = T.tensor(Float32Array.from(wr.data), { shape: wr.shape, requiresGrad: true });
      T.rmsNorm(x, w).backward(T.tensor(Float32Array.from(gr.data), { shape: gr.shape }));
      return w.grad!.toFloat64();
    });
    const a = once(), b = once();
    expect(Array.from(a)).toEqual(Array.from(b));
    // the row chunks are fixed, so the thread count does not change a bit
    const threads = T.numThreads();
    T.setNumThreads(threads === 1 ? 2 : 1);
    try { expect(Array.from(once())).toEqual(Array.from(a)); } finally { T.setNumThreads(threads); }
    // dweight_j = sum_r g_rj x_rj / rms_r, computed with the float32-rounded inputs
    const x32 = xr.map(Math.fround), g32 = gr.map(Math.fround);
    const want = Ref.zeros([16]);
    for (let row = 0; row < 300; row++) {
      let ss = 0;
      for (let c = 0; c < 16; c++) ss += x32.data[row * 16 + c] ** 2;
      const inv = 1 / Math.sqrt(ss / 16 + 1e-6);
      for (let c = 0; c < 16; c++) want.data[c] += g32.data[row * 16 + c] * x32.data[row * 16 + c] * inv;
    }
    expectClose(new Ref(a, [16]), want, 1e-4, 1e-5, 'dweight');
  });

  test('rejects a weight of the wrong size', () => {
    expect(() => T.rmsNorm(T.zeros([2, 4]), T.ones([3]))).toThrow(/weight shape/);
  });
});

// ---- RoPE ----------------------------------------------------------------------------------------

interface RopeRefOpts { theta?: number; linear?: number; ntk?: number; scaleBase?: number; key?: boolean }

/** HF LLaMA: y = x * cos(emb) + rotate_half(x) * sin(emb), emb = cat(freqs, freqs), times the XPos scale. */
function ropeRef(x: Ref, pos: number[][], o: RopeRefOpts = {}): Ref {
  const [B, H, Tn, D] = x.shape, half = D / 2;
  let theta = o.theta ?? 10000;
  if (o.ntk) theta *= o.ntk ** (D / (D - 2));
  const y = Ref.zeros(x.shape);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tn; t++) {
      const p = pos[b][t];
      for (let d = 0; d < D; d++) {
        const i = d % half;
        const emb = (p / (o.linear ?? 1)) * (1 / theta ** ((2 * i) / D));
        const zeta = ((2 * i) / D + 0.4) / 1.4;
        const scale = o.scaleBase ? zeta ** (((o.key ? -1 : 1) * p) / o.scaleBase) : 1;
        for (let h = 0; h < H; h++) {
          const row = ((b * H + h) * Tn + t) * D;
          const rot = d < half ? -x.data[row + d + half] : x.data[row + d - half];
          y.data[row + d] = scale * (x.data[row + d] * Math.cos(emb) + rot * Math.sin(emb));
        }
      }
    }
  }
  return y;
}

const posTensor = (pos: number[], shape: number[], dtype: 'int32' | 'int64') =>
  T.tensor(dtype === 'int32' ? Int32Array.from(pos) : BigInt64Array.from(pos.map(BigInt)), { shape, dtype });

describe('applyRotary', () => {
  const B = 2, H = 3, Tn = 4, D = 8;
  const shared = [0, 1, 5, 17];
  const perBatch = [[3, 4, 5, 6], [0, 9, 2, 100]];

  for (const layout of ['contiguous', 'transposed', 'strided', 'broadcast'] as Layout[]) {
    test(`shared (T) int32 positions, ${layout} x`, () => {
      const pos = posTensor(shared, [Tn], 'int32');
      checkOp({
        inputs: [{ shape: [B, H, Tn, D], layout }],
        ours: (x) => T.applyRotary(x, pos),
        ref: (x) => ropeRef(x, [shared, shared]),
      });
    });
  }

  test('(B, T) int64 positions and rope_theta', () => {
    const pos = posTensor(perBatch.flat(), [B, Tn], 'int64');
    checkOp({ inputs: [{ shape: [B, H, Tn, D] }], ours: (x) => T.applyRotary(x, pos, { theta: 500000 }), ref: (x) => ropeRef(x, perBatch, { theta: 500000 }) });
  });

  test('a (B, T, H, D) projection permuted to (B, H, T, D) is read in place (unit-stride head dim)', () => {
    const pos = posTensor(shared, [Tn], 'int64');
    checkOp({
      inputs: [{ shape: [B, Tn, H, D] }],
      ours: (x) => T.applyRotary(T.permute(x, [0, 2, 1, 3]), pos),
      ref: (x) => ropeRef(x.permute([0, 2, 1, 3]), [shared, shared]),
    });
  });

  test('linear and NTK scaling', () => {
    const pos = posTensor(perBatch.flat(), [B, Tn], 'int32');
    checkOp({ inputs: [{ shape: [B, H, Tn, D] }], ours: (x) => T.applyRotary(x, pos, { scaling: { type: 'linear', factor: 4 } }), ref: (x) => ropeRef(x, perBatch, { linear: 4 }) });
    checkOp({ inputs: [{ shape: [B, H, Tn, D] }], ours: (x) => T.applyRotary(x, pos, { scaling: { type: 'ntk', factor: 8 } }), ref: (x) => ropeRef(x, perBatch, { ntk: 8 }) });
  });

  test('XPos for queries and keys', () => {
    const pos = posTensor(perBatch.flat(), [B, Tn], 'int32');
    for (const key of [false, true]) {
      checkOp({
        inputs: [{ shape: [B, H, Tn, D] }],
        ours: (x) => T.applyRotary(x, pos, { xpos: { scaleBase: 64 }, xposKind: key ? 'key' : 'query' }),
        ref: (x) => ropeRef(x, perBatch, { scaleBase: 64, key }),
      });
    }
  });

  test('XPos keeps q.k a function of the relative distance only', () => {
    const r = rng(11);
    const q = randRef([1, 1, 1, D], r), k = randRef([1, 1, 1, D], r);
    const dot = (m: number, n: number) => T.tidy(() => {
      const o = { xpos: { scaleBase: 32 } };
      const qr = T.applyRotary(T.tensor(Float32Array.from(q.data), { shape: q.shape }), posTensor([m], [1], 'int32'), { ...o, xposKind: 'query' });
      const kr = T.applyRotary(T.tensor(Float32Array.from(k.data), { shape: k.shape }), posTensor([n], [1], 'int32'), { ...o, xposKind: 'key' });
      return T.sum(T.mul(qr, kr)).item();
    });
    expect(dot(13, 10)).toBeCloseTo(dot(5, 2), 5);
    expect(dot(40, 1)).toBeCloseTo(dot(39, 0), 5);
    expect(Math.abs(dot(5, 2) - dot(5, 4))).toBeGreaterThan(1e-3);
  });

  test('edge sizes: T=1, D=2, B=H=1', () => {
    checkOp({ inputs: [{ shape: [1, 1, 1, 2] }], ours: (x) => T.applyRotary(x, posTensor([7], [1], 'int32')), ref: (x) => ropeRef(x, [[7]]) });
    checkOp({ inputs: [{ shape: [1, 2, 3, 2] }], ours: (x) => T.applyRotary(x, posTensor([0, 1, 2], [1, 3], 'int64')), ref: (x) => ropeRef(x, [[0, 1, 2]]) });
  });

  test('large positions stay accurate (cos/sin from double-precision angles)', () => {
    const big = [65535, 1000003, 123456789, 2 ** 31 - 1];
    const pos = posTensor(big, [Tn], 'int64');
    checkOp({ inputs: [{ shape: [1, 2, Tn, 16] }], ours: (x) => T.applyRotary(x, pos), ref: (x) => ropeRef(x, [big]), grad: false, atol: 2e-6 });
  });

  test('fused == x * cos + rotate_half(x) * sin from slice/concat (output and dx)', () => {
    const Dh = 10, half = Dh / 2, pos = [0, 3, 8, 1000, 1];
    const theta = 10000;
    const table = (f: (a: number) => number) => T.tensor(Float32Array.from({ length: pos.length * Dh }, (_, j) => {
      const t = Math.floor(j / Dh), i = (j % Dh) % half;
      return f(pos[t] / theta ** ((2 * i) / Dh));
    }), { shape: [pos.length, Dh] });
    const posT = posTensor(pos, [pos.length], 'int32');
    fusedEqualsUnfused([[2, 3, pos.length, Dh]], (x) => T.applyRotary(x, posT), (x) => {
      const rh = T.concat([T.neg(T.slice(x, -1, half)), T.slice(x, -1, 0, half)], -1);
      return T.add(T.mul(x, table(Math.cos)), T.mul(rh, table(Math.sin)));
    });
  });

  test('rejects bad inputs', () => {
    const x = T.zeros([1, 1, 2, 4]);
    expect(() => T.applyRotary(x, T.zeros([2]))).toThrow(/int32 or int64/);
    expect(() => T.applyRotary(x, posTensor([0, 1, 2], [3], 'int32'))).toThrow(/positions/);
    expect(() => T.applyRotary(T.zeros([1, 1, 2, 3]), posTensor([0, 1], [2], 'int32'))).toThrow(/even/);
  });
});

// ---- SwiGLU --------------------------------------------------------------------------------------

const silu = (v: number) => v / (1 + Math.exp(-v));

describe('swiglu', () => {
  for (const layout of ['contiguous', 'transposed', 'strided', 'broadcast'] as Layout[]) {
    test(`[3, 7] ${layout}`, () => {
      checkOp({
        inputs: [{ shape: [3, 7], range: [-4, 4], layout }, { shape: [3, 7], layout: layout === 'broadcast' ? 'contiguous' : layout }],
        ours: (g, u) => T.swiglu(g, u),
        ref: (g, u) => g.zip(u, (a, b) => silu(a) * b),
      });
    });
  }

  test('odd sizes and a single element', () => {
    checkOp({ inputs: [{ shape: [2, 3, 5], range: [-4, 4] }, { shape: [2, 3, 5] }], ours: (g, u) => T.swiglu(g, u), ref: (g, u) => g.zip(u, (a, b) => silu(a) * b) });
    checkOp({ inputs: [{ shape: [1], range: [-4, 4] }, { shape: [1] }], ours: (g, u) => T.swiglu(g, u), ref: (g, u) => g.zip(u, (a, b) => silu(a) * b) });
  });

  test('packed (..., 2F) input: first half gate, second half up', () => {
    checkOp({
      inputs: [{ shape: [3, 10], range: [-3, 3] }],
      ours: (x) => T.swiglu(x),
      ref: (x) => Ref.fromFn([3, 5], ([i, j]) => silu(x.at(i, j)) * x.at(i, j + 5)),
    });
  });

  test('fused == mul(mul(g, sigmoid(g)), up) (output, dgate, dup)', () => {
    fusedEqualsUnfused([[4, 6, 37], [4, 6, 37]], (g, u) => T.swiglu(g, u), (g, u) => T.mul(T.mul(g, T.sigmoid(g)), u));
  });

  test('saturated gates give finite values and gradients', () => {
    T.tidy(() => {
      const g = T.tensor([-200, -90, -30, 0, 30, 90, 200], { requiresGrad: true });
      const u = T.tensor([1, 2, 3, 4, 5, 6, 7], { requiresGrad: true });
      const y = T.swiglu(g, u);
      T.sum(y).backward();
      for (const v of [...y.toFloat64(), ...g.grad!.toFloat64(), ...u.grad!.toFloat64()]) expect(Number.isFinite(v)).toBe(true);
      const yv = y.toFloat64();
      expect(yv[0]).toBeCloseTo(0, 6);
      expect(yv[6]).toBeCloseTo(200 * 7, 3);
    });
  });
});
