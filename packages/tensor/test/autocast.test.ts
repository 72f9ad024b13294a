// autocast('bfloat16'): matmul of float32 operands equals the float64 product of the bf16-rounded
// operands (forward and both gradients, fp32 accumulation), on every layout; scopes nest and
// restore; the mode is captured at forward time; outside autocast matmul is bit-identical to the plain op.
import * as T from '@stellar/tensor';
import { toRef } from './util/check-op';
import { Ref, rng, randRef } from './util/ref';

/** Round-to-nearest-even float32 -> bf16 -> float32, written from the bit layout (shares no code with the kernel). */
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
function bf16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  u32[0] = ((u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000) >>> 0;
  return f32[0];
}
const round = (r: Ref) => r.map(bf16);
const fround = (r: Ref) => r.map(Math.fround);
const absRef = (r: Ref) => r.map(Math.abs);
const tRef = (r: Ref) => { const ax = [...r.shape.keys()]; [ax[r.ndim - 2], ax[r.ndim - 1]] = [ax[r.ndim - 1], ax[r.ndim - 2]]; return r.permute(ax); };

/** Sums a broadcast result back to `shape` (leading dims dropped, size-1 dims summed). */
function sumToShape(r: Ref, shape: number[]): Ref {
  let x = r;
  while (x.ndim > shape.length) x = x.sum([0]);
  const axes = shape.map((d, i) => (d === 1 && x.shape[i] !== 1 ? i : -1)).filter((i) => i >= 0);
  return axes.length ? x.sum(axes, true) : x;
}

/**
 * |actual - want| <= rel * scale elementwise, with scale = sum_k |x_k y_k| of the same dot product:
 * the bound fp32 accumulation of K terms stays within. Returns max |actual - other| / scale.
 */
function checkDot(actual: Ref, want: Ref, scale: Ref, rel: number, what: string): void {
  expect(actual.shape).toEqual(want.shape);
  for (let i = 0; i < actual.size; i++) {
    const err = Math.abs(actual.data[i] - want.data[i]);
    if (!(err <= rel * scale.data[i] + 1e-30)) throw new Error(`${what}: element ${i} is ${actual.data[i]}, want ${want.data[i]} (scale ${scale.data[i]})`);
  }
}
function maxRelDiff(x: Ref, y: Ref, scale: Ref): number {
  let m = 0;
  for (let i = 0; i < x.size; i++) m = Math.max(m, Math.abs(x.data[i] - y.data[i]) / scale.data[i]);
  return m;
}

type Layout = 'contiguous' | 'transposed' | 'strided' | 'broadcast';

/** A float32 leaf holding x and the view of it the op sees, plus how to read x's gradient off the leaf. */
function input(x: Ref, layout: Layout): { leaf: T.Tensor; view: T.Tensor; grad: () => Ref } {
  if (layout === 'transposed') {
    const leaf = T.tensor(Float32Array.from(tRef(x).data), { shape: tRef(x).shape, requiresGrad: true });
    return { leaf, view: leaf.transpose(-2, -1), grad: () => tRef(toRef(leaf.grad!)) };
  }
  if (layout === 'strided') {
    // every other column of a twice-as-wide matrix
    const nd = x.ndim, wide = [...x.shape]; wide[nd - 1] *= 2;
    const base = Ref.fromFn(wide, (idx) => (idx[nd - 1] % 2 ? 7 : x.at(...idx.slice(0, -1), idx[nd - 1] / 2)));
    const leaf = T.tensor(Float32Array.from(base.data), { shape: wide, requiresGrad: true });
    return { leaf, view: leaf.slice(-1, 0, undefined, 2), grad: () => { const g = toRef(leaf.grad!); return Ref.fromFn(x.shape, (idx) => g.at(...idx.slice(0, -1), idx[nd - 1] * 2)); } };
  }
  if (layout === 'broadcast') {
    // the first dim is an expanded size-1 dim: every slice equals slice 0
    const row = Ref.fromFn([1, ...x.shape.slice(1)], (idx) => x.at(0, ...idx.slice(1)));
    for (let i = 0; i < x.size; i++) x.data[i] = row.data[i % row.size];
    const leaf = T.tensor(Float32Array.from(row.data), { shape: row.shape, requiresGrad: true });
    // the leaf's gradient is the sum over the expanded dim; compare it against the reference summed the same way
    return { leaf, view: leaf.expand(x.shape), grad: () => toRef(leaf.grad!) };
  }
  const leaf = T.tensor(Float32Array.from(x.data), { shape: x.shape, requiresGrad: true });
  return { leaf, view: leaf, grad: () => toRef(leaf.grad!) };
}

const cases: [number[], number[], Layout, Layout][] = [
  [[5, 70], [70, 9], 'contiguous', 'contiguous'],
  [[2, 6, 40], [40, 11], 'contiguous', 'transposed'],    // linear layer: x (B, T, C) @ W^T, folded into one GEMM
  [[2, 6, 40], [40, 11], 'transposed', 'contiguous'],
  [[2, 5, 33], [2, 33, 7], 'contiguous', 'contiguous'],  // batched
  [[2, 5, 33], [2, 33, 7], 'transposed', 'transposed'],
  [[2, 1, 4, 20], [3, 20, 6], 'contiguous', 'contiguous'], // batch broadcasting both ways
  [[6, 24], [24, 5], 'strided', 'strided'],
  [[3, 4, 30], [30, 5], 'broadcast', 'contiguous'],
  [[4, 30], [3, 30, 5], 'contiguous', 'broadcast'],
];

describe('autocast bf16 matmul', () => {
  for (const [sa, sb, la, lb] of cases) {
    test(`[${sa}] (${la}) @ [${sb}] (${lb}): forward and gradients equal the float64 math of bf16-rounded operands`, () => {
      const r = rng(sa.length * 100 + sb[0] + 7);
      const xa = fround(randRef(sa, r)), xb = fround(randRef(sb, r));
      T.tidy(() => {
        const A = input(xa, la), B = input(xb, lb);
        const y = T.autocast('bfloat16', () => T.matmul(A.view, B.view));
        expect(y.dtype).toBe('float32');
        const a16 = round(xa), b16 = round(xb);
        const want = a16.matmul(b16), scale = absRef(a16).matmul(absRef(b16));
        const got = toRef(y);
        checkDot(got, want, scale, 1e-5, 'forward');
        // and it is not the fp32 product: the difference is about bf16 rounding (u = 2^-9 per operand)
        const d = maxRelDiff(got, xa.matmul(xb), absRef(xa).matmul(absRef(xb)));
        expect(d).toBeGreaterThan(1e-4);
        expect(d).toBeLessThan(2.1 * 2 ** -9);
        // backward runs outside the scope: the op recorded its mode at forward time
        const g = fround(randRef(got.shape, r));
        y.backward(T.tensor(Float32Array.from(g.data), { shape: g.shape }));
        const g16 = round(g);
        const gaFull = g16.matmul(tRef(b16)), gaScale = absRef(g16).matmul(tRef(absRef(b16)));
        const gbFull = tRef(a16).matmul(g16), gbScale = tRef(absRef(a16)).matmul(absRef(g16));
        const leafShape = (s: number[], l: Layout) => (l === 'broadcast' ? [1, ...s.slice(1)] : s);
        expect(A.leaf.grad!.dtype).toBe('float32');
        expect(B.leaf.grad!.dtype).toBe('float32');
        checkDot(A.grad(), sumToShape(gaFull, leafShape(sa, la)), sumToShape(gaScale, leafShape(sa, la)), 1e-5, 'dA');
        checkDot(B.grad(), sumToShape(gbFull, leafShape(sb, lb)), sumToShape(gbScale, leafShape(sb, lb)), 1e-5, 'dB');
      });
    });
  }

  test('only one operand needs a gradient (frozen weight / constant input)', () => {
    const r = rng(3);
    const xa = fround(randRef([3, 16], r)), xb = fround(randRef([16, 4], r));
    T.tidy(() => {
      const a = T.tensor(Float32Array.from(xa.data), { shape: xa.shape, requiresGrad: true });
      const w = T.tensor(Float32Array.from(xb.data), { shape: [16, 4] });
      T.sum(T.autocast('bfloat16', () => T.matmul(a, w))).backward();
      const want = Ref.fromFn([3, 4], () => 1).matmul(tRef(round(xb)));
      checkDot(toRef(a.grad!), want, absRef(want).map((v) => v + 1), 1e-5, 'dA with a constant B');
      const b = T.tensor(Float32Array.from(xb.data), { shape: [16, 4], requiresGrad: true });
      const x = T.tensor(Float32Array.from(xa.data), { shape: xa.shape });
      T.sum(T.autocast('bfloat16', () => T.matmul(x, b))).backward();
      const wantB = tRef(round(xa)).matmul(Ref.fromFn([3, 4], () => 1));
      checkDot(toRef(b.grad!), wantB, absRef(wantB).map((v) => v + 1), 1e-5, 'dB with a constant A');
    });
  });

  test('backward keeps the bf16 copies, not the float32 activation', () => {
    T.tidy(() => {
      const x = T.randn([512, 256]).requiresGrad_();
      const w = T.randn([64, 256]).requiresGrad_();
      const live = () => T.memStats().liveBytes;
      const freedAfterDispose = (mode: 'bfloat16' | null) => {
        const h = T.mul(x, 2);                            // (512, 256) float32 activation, 512 KiB
        const y = T.autocast(mode, () => T.matmul(h, w.transpose(-2, -1)));
        const before = live();
        h.dispose();
        const freed = before - live();
        T.sum(y).backward();
        return freed;
      };
      // plain matmul saves h, so disposing our handle frees nothing; under autocast only its bf16 copy is saved
      expect(freedAfterDispose(null)).toBe(0);
      expect(freedAfterDispose('bfloat16')).toBeGreaterThanOrEqual(512 * 256 * 4);
    });
  });

  test('an activation feeding several matmuls is cast and saved once; gradients still sum both paths', () => {
    const r = rng(11);
    const xs = fround(randRef([32, 24], r)), w1 = fround(randRef([24, 8], r)), w2 = fround(randRef([24, 8], r));
    T.tidy(() => {
      const x = T.tensor(Float32Array.from(xs.data), { shape: xs.shape, requiresGrad: true });
      const W1 = T.tensor(Float32Array.from(w1.data), { shape: w1.shape, requiresGrad: true });
      const W2 = T.tensor(Float32Array.from(w2.data), { shape: w2.shape, requiresGrad: true });
      const h = T.mul(x, 1);                          // (32, 24) graph tensor: the shared activation
      const [y1, y2] = T.autocast('bfloat16', () => [T.matmul(h, W1), T.matmul(h, W2)]);
      T.add(T.sum(y1), T.mul(T.sum(y2), 2)).backward();
      const ones = Ref.fromFn([32, 8], () => 1), twos = Ref.fromFn([32, 8], () => 2);
      const want = ones.matmul(tRef(round(w1))).zip(twos.matmul(tRef(round(w2))), (p, q) => p + q);
      checkDot(toRef(x.grad!), want, absRef(want).map((v) => v + 1), 1e-5, 'dx through both matmuls');
    });
    // memory: the two matmuls keep one bf16 copy of h (128 KiB) between them, not two
    T.tidy(() => {
      const x = T.randn([512, 128]).requiresGrad_();
      const ws = [0, 1, 2].map(() => T.randn([128, 64]).requiresGrad_());
      const h = T.mul(x, 1);                          // (512, 128) float32, 256 KiB
      const before = T.memStats().liveBytes;
      const ys = T.autocast('bfloat16', () => ws.map((w) => T.matmul(h, w)));   // 3 x (512, 64) float32 outputs, 128 KiB each
      const grown = T.memStats().liveBytes - before;
      // outputs 3 x 128 KiB + weight copies 3 x 16 KiB + ONE copy of h (128 KiB); three copies would add 256 KiB more
      expect(grown).toBeLessThan(3 * 128 * 1024 + 3 * 16 * 1024 + 128 * 1024 + 64 * 1024);
      T.sum(T.concat(ys, 1)).backward();
    });
  });

  test('weights (leaves) are cast on every use, so an in-place update inside one scope is seen', () => {
    T.tidy(() => {
      const x = T.randn([4, 16]);
      const w = T.randn([16, 3]).requiresGrad_();
      T.autocast('bfloat16', () => {
        const y1 = T.matmul(x, w).toFloat64();
        T.noGrad(() => T.copyInto(w, T.mul(w, 2)));
        const y2 = T.matmul(x, w).toFloat64();
        y1.forEach((v, i) => expect(y2[i]).toBe(2 * v));   // x2 is exact in bf16
      });
    });
  });

  test('outside autocast (and inside autocast(null / float32)) matmul is bit-identical to the plain op, forward and backward', () => {
    const plain = T.getOp('matmul')!;
    T.tidy(() => {
      const a0 = T.randn([2, 7, 19]), b0 = T.randn([11, 19]);
      const run = (f: (a: T.Tensor, bt: T.Tensor) => T.Tensor) => {
        const a = a0.clone().requiresGrad_(), b = b0.clone().requiresGrad_();
        const y = f(a, b.transpose(-2, -1));
        y.backward(T.onesLike(y));
        return [y, a.grad!, b.grad!].map((t) => Array.from(t.toFloat64()));
      };
      const ref = run((a, bt) => T.runOp(plain, [a, bt], {})[0]);
      expect(run(T.matmul)).toEqual(ref);
      expect(T.autocast('bfloat16', () => T.autocast(null, () => run(T.matmul)))).toEqual(ref);
      expect(T.autocast('bfloat16', () => T.autocast('float32', () => run(T.matmul)))).toEqual(ref);
      // a graph recorded without autocast keeps fp32 gradients even when backward runs inside a bf16 scope
      const a = a0.clone().requiresGrad_(), b = b0.clone().requiresGrad_();
      const y = T.matmul(a, b.transpose(-2, -1));
      T.autocast('bfloat16', () => y.backward(T.onesLike(y)));
      expect([Array.from(a.grad!.toFloat64()), Array.from(b.grad!.toFloat64())]).toEqual(ref.slice(1));
      // bf16 operands are not affected by autocast either
      const a16 = a0.cast('bfloat16'), b16 = b0.cast('bfloat16').transpose(-2, -1);
      expect(Array.from(T.autocast('bfloat16', () => T.matmul(a16, b16)).toFloat64())).toEqual(Array.from(T.matmul(a16, b16).toFloat64()));
    });
  });

  test('scopes nest and restore, also when fn throws', () => {
    expect(T.autocastDtype()).toBeNull();
    T.autocast('bfloat16', () => {
      expect(T.autocastDtype()).toBe('bfloat16');
      T.autocast(null, () => expect(T.autocastDtype()).toBeNull());
      T.autocast('float32', () => {
        expect(T.autocastDtype()).toBeNull();
        T.autocast('bfloat16', () => expect(T.autocastDtype()).toBe('bfloat16'));
        expect(T.autocastDtype()).toBeNull();
      });
      expect(T.autocastDtype()).toBe('bfloat16');
      expect(() => T.autocast(null, () => { throw new Error('boom'); })).toThrow('boom');
      expect(T.autocastDtype()).toBe('bfloat16');
    });
    expect(() => T.autocast('bfloat16', () => { throw new Error('boom'); })).toThrow('boom');
    expect(T.autocastDtype()).toBeNull();
    expect(() => T.autocast('float16' as never, () => 0)).toThrow(/unsupported/);
    expect(T.autocast('bfloat16', () => 42)).toBe(42);
  });
});
