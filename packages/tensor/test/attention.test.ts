// Fused attention: forward vs a float64 loop reference (GQA/MQA, causal with a KV-cache offset, key
// padding, fully masked rows, ragged tiles, strided views, the few-query decoding path), gradients vs
// finite differences, fused == unfused (medium shapes, wide heads, one MQA sequence), determinism and
// no leaked native memory. The kernel picks the widest SIMD the CPU has; STELLAR_ATTENTION_LANES=8 or
// 4 (and STELLAR_NUM_THREADS) run this same file against the AVX2 and baseline variants.
import * as T from '@stellar/tensor';
import { checkOp, expectClose, toRef } from './util/check-op';
import { Ref, rng, randRef } from './util/ref';

interface RefOpts { causal?: boolean; scale?: number; mask?: number[] /* (B, S) 0/1 */ }

/** softmax(scale q k^T + mask) v in float64 with plain loops; q (B, Hq, T, D), k, v (B, Hkv, S, D). */
function refAttention(q: Ref, k: Ref, v: Ref, o: RefOpts = {}): Ref {
  const [B, Hq, Tq, D] = q.shape;
  const [, Hkv, S] = k.shape;
  const group = Hq / Hkv;
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const out = Ref.zeros([B, Hq, Tq, D]);
  const s = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / group);
      for (let i = 0; i < Tq; i++) {
        let m = -Infinity;
        for (let j = 0; j < S; j++) {
          const visible = (!o.causal || j <= S - Tq + i) && (!o.mask || o.mask[b * S + j] === 1);
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q.at(b, h, i, d) * k.at(b, kh, j, d);
          s[j] = visible ? scale * dot : -Infinity;
          m = Math.max(m, s[j]);
        }
        if (m === -Infinity) continue;  // every key masked: the row stays zero
        let z = 0;
        for (let j = 0; j < S; j++) { s[j] = Math.exp(s[j] - m); z += s[j]; }
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < S; j++) acc += s[j] * v.at(b, kh, j, d);
          out.set([b, h, i, d], acc / z);
        }
      }
    }
  }
  return out;
}

const toTensor = (r: Ref, requiresGrad = false) => T.tensor(Float32Array.from(r.data), { shape: r.shape, requiresGrad });
const boolMask = (vals: number[], B: number, S: number) => T.tensor(Uint8Array.from(vals), { shape: [B, S], dtype: 'bool' });

/** The output and dq, dk, dv of `attend` on fresh leaves of q, k, v, backward from go. */
function outAndGrads(attend: typeof T.scaledDotProductAttention, [q, k, v]: T.Tensor[], go: T.Tensor, opts: T.AttentionOptions): Ref[] {
  const [a, b, c] = [q, k, v].map((t) => t.detach().requiresGrad_());
  const out = attend(a, b, c, opts);
  out.backward(go);
  return [out, a.grad!, b.grad!, c.grad!].map(toRef);
}

/** Checks that fused and unfused agree on the output and all three gradients; returns the fused ones. */
function expectFusedMatchesUnfused(qkv: T.Tensor[], go: T.Tensor, opts: T.AttentionOptions): Ref[] {
  const fused = outAndGrads(T.scaledDotProductAttention, qkv, go, opts), unfused = outAndGrads(T.attentionUnfused, qkv, go, opts);
  ['output', 'dq', 'dk', 'dv'].forEach((what, i) => expectClose(fused[i], unfused[i], 1e-5, 1e-5, what));
  return fused;
}

interface Case { name: string; B: number; Hq: number; Hkv: number; T: number; S: number; D: number; causal: boolean; mask?: number[]; scale?: number }

const forwardCases: Case[] = [
  { name: 'GQA causal', B: 2, Hq: 4, Hkv: 2, T: 9, S: 9, D: 8, causal: true },
  { name: 'GQA non-causal', B: 2, Hq: 4, Hkv: 2, T: 9, S: 9, D: 8, causal: false },
  { name: 'MQA causal', B: 1, Hq: 3, Hkv: 1, T: 6, S: 6, D: 5, causal: true },
  { name: 'MHA custom scale', B: 1, Hq: 2, Hkv: 2, T: 4, S: 6, D: 3, causal: false, scale: 0.7 },
  { name: 'decode T=1, S=7 (causal offset)', B: 2, Hq: 4, Hkv: 2, T: 1, S: 7, D: 8, causal: true },
  { name: 'decode T=3, S=7 (causal offset)', B: 2, Hq: 4, Hkv: 2, T: 3, S: 7, D: 8, causal: true },
  { name: 'T=3, S=7 non-causal', B: 1, Hq: 2, Hkv: 1, T: 3, S: 7, D: 8, causal: false },
  { name: 'key padding mask', B: 2, Hq: 2, Hkv: 1, T: 5, S: 5, D: 4, causal: false, mask: [1, 0, 1, 1, 0, 1, 1, 1, 0, 0] },
  { name: 'padding + causal', B: 2, Hq: 2, Hkv: 2, T: 6, S: 6, D: 4, causal: true, mask: [1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1] },
  // T, S beyond one 64-wide tile and not multiples of it; D not a multiple of the 16 SIMD lanes
  { name: 'ragged tiles, causal', B: 1, Hq: 2, Hkv: 1, T: 150, S: 150, D: 20, causal: true },
  { name: 'ragged tiles, decode offset', B: 1, Hq: 2, Hkv: 2, T: 67, S: 130, D: 16, causal: true },
  // T <= 8 with D a multiple of 16 takes the one-row-per-task decoding path
  { name: 'row path: decode T=1, S=70, GQA', B: 2, Hq: 4, Hkv: 2, T: 1, S: 70, D: 32, causal: true },
  { name: 'row path: T=5, S=150, MQA, D=64', B: 1, Hq: 3, Hkv: 1, T: 5, S: 150, D: 64, causal: true },
  { name: 'row path: T=8, S=20, non-causal, D=16, padding', B: 2, Hq: 2, Hkv: 2, T: 8, S: 20, D: 16, causal: false, mask: Array.from({ length: 40 }, (_, i) => (i % 3 === 0 || i >= 20 + 14 ? 0 : 1)) },
  { name: 'row path: T=2, S=1 (first row sees nothing)', B: 1, Hq: 2, Hkv: 1, T: 2, S: 1, D: 16, causal: true },
  { name: 'more queries than keys (early rows see nothing)', B: 1, Hq: 2, Hkv: 1, T: 5, S: 3, D: 4, causal: true },
  { name: 'large logits (exp underflow)', B: 1, Hq: 2, Hkv: 1, T: 80, S: 80, D: 16, causal: true, scale: 4 },
  { name: 'ragged tiles, padding', B: 2, Hq: 2, Hkv: 1, T: 70, S: 77, D: 16, causal: false, mask: Array.from({ length: 2 * 77 }, (_, i) => (i % 5 === 3 || i > 140 ? 0 : 1)) },
];

describe('fused attention forward vs float64 reference', () => {
  for (const c of forwardCases) {
    test(c.name, () => {
      const r = rng(7);
      const q = randRef([c.B, c.Hq, c.T, c.D], r, -2, 2), k = randRef([c.B, c.Hkv, c.S, c.D], r, -2, 2), v = randRef([c.B, c.Hkv, c.S, c.D], r);
      const want = refAttention(q, k, v, { causal: c.causal, scale: c.scale, mask: c.mask });
      T.tidy(() => {
        const got = T.scaledDotProductAttention(toTensor(q), toTensor(k), toTensor(v), {
          causal: c.causal, scale: c.scale, keyPaddingMask: c.mask ? boolMask(c.mask, c.B, c.S) : undefined,
        });
        expect(got.shape).toEqual([c.B, c.Hq, c.T, c.D]);
        expectClose(toRef(got), want, 1e-5, 1e-5, 'attention output');
      });
    });
  }

  // D=4 runs the tile path, D=16 (with T <= 8) the row path
  for (const D of [4, 16]) test(`fully masked rows give zeros, no NaN, and zero gradients (D=${D})`, () => {
    // batch 1 masks every key; in batch 0 causal query 0 only sees key 0, which is masked
    const B = 2, H = 2, N = 5;
    const mask = [0, 1, 1, 1, 1, 0, 0, 0, 0, 0];
    const r = rng(3);
    const q = randRef([B, H, N, D], r), k = randRef([B, H, N, D], r), v = randRef([B, H, N, D], r);
    const want = refAttention(q, k, v, { causal: true, mask });
    T.tidy(() => {
      const [tq, tk, tv] = [q, k, v].map((x) => toTensor(x, true));
      const out = T.scaledDotProductAttention(tq, tk, tv, { causal: true, keyPaddingMask: boolMask(mask, B, N) });
      const o = toRef(out);
      expectClose(o, want, 1e-5, 1e-5, 'output');
      for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) expect(o.at(0, h, 0, d)).toBe(0);
      T.sum(T.mul(out, out)).backward();
      const gq = toRef(tq.grad!), gk = toRef(tk.grad!), gv = toRef(tv.grad!);
      for (const g of [gq, gk, gv]) for (const x of g.data) expect(Number.isFinite(x)).toBe(true);
      for (let h = 0; h < H; h++) for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) {
        expect(gq.at(1, h, i, d)).toBe(0);  // all of batch 1 is masked
        expect(gk.at(1, h, i, d)).toBe(0);
        expect(gv.at(1, h, i, d)).toBe(0);
      }
      for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) expect(gq.at(0, h, 0, d)).toBe(0);
    });
  });

  test('strided views from (B, T, H, D) are read in place', () => {
    const B = 2, N = 70, Hq = 4, Hkv = 2, D = 16;
    const r = rng(11);
    const qb = randRef([B, N, Hq, D], r), kb = randRef([B, N, Hkv, D], r), vb = randRef([B, N, Hkv, D], r);
    const perm = [0, 2, 1, 3];
    const want = refAttention(qb.permute(perm), kb.permute(perm), vb.permute(perm), { causal: true });
    T.tidy(() => {
      const [q, k, v] = [qb, kb, vb].map((x) => T.transpose(toTensor(x), 1, 2));
      expect(q.isContiguous).toBe(false);
      expectClose(toRef(T.scaledDotProductAttention(q, k, v, { causal: true })), want, 1e-5, 1e-5, 'output');
    });
  });

  test('rejects mismatched shapes', () => {
    T.tidy(() => {
      const q = T.zeros([1, 3, 4, 8]), k = T.zeros([1, 2, 4, 8]);
      expect(() => T.scaledDotProductAttention(q, k, k)).toThrow(/multiple/);
      expect(() => T.scaledDotProductAttention(q, T.zeros([1, 1, 4, 7]), T.zeros([1, 1, 4, 7]))).toThrow(/does not match/);
      expect(() => T.scaledDotProductAttention(q, T.zeros([1, 1, 4, 8]), T.zeros([1, 1, 4, 8]), { keyPaddingMask: T.zeros([1, 4]) })).toThrow(/bool/);
    });
  });
});

describe('fused attention gradients vs finite differences', () => {
  const shapes = (Hq: number, Hkv: number, Tq: number, S: number, D: number, layout: 'contiguous' | 'transposed' = 'contiguous') => [
    { shape: [1, Hq, Tq, D], layout }, { shape: [1, Hkv, S, D], layout }, { shape: [1, Hkv, S, D], layout },
  ];
  /** checkOp of `attend` (batch 1) against refAttention with the same options on both sides. */
  const gradCheck = (dims: Parameters<typeof shapes>, o: RefOpts, attend = T.scaledDotProductAttention) => {
    const keyPaddingMask = () => (o.mask ? boolMask(o.mask, 1, dims[3]) : undefined);
    checkOp({
      inputs: shapes(...dims),
      ours: (q, k, v) => attend(q, k, v, { causal: o.causal, scale: o.scale, keyPaddingMask: keyPaddingMask() }),
      ref: (q, k, v) => refAttention(q, k, v, o),
    });
  };
  test('causal, Hq=2 Hkv=1', () => gradCheck([2, 1, 5, 5, 4], { causal: true }));
  test('decode offset T=3, S=5, GQA Hq=4 Hkv=2, D not unit-stride (copied)', () => gradCheck([4, 2, 3, 5, 4, 'transposed'], { causal: true }));
  test('key padding mask, non-causal, custom scale', () => gradCheck([2, 1, 5, 5, 4], { scale: 0.8, mask: [1, 0, 1, 1, 0] }));
  test('row path (T=3, D=16), padding + causal: backward from its logsumexp', () =>
    gradCheck([2, 1, 3, 5, 16], { causal: true, mask: [0, 1, 1, 0, 1] }));
  test('padding + causal', () => gradCheck([2, 1, 5, 5, 4], { causal: true, mask: [1, 1, 0, 1, 1] }));
  test('attentionUnfused matches the reference too', () =>
    gradCheck([2, 1, 5, 5, 4], { causal: true, mask: [1, 1, 0, 1, 1] }, T.attentionUnfused));
});

describe('fused == unfused on medium shapes', () => {
  const cases: { name: string; opts: (B: number, S: number) => T.AttentionOptions }[] = [
    { name: 'causal', opts: () => ({ causal: true }) },
    { name: 'non-causal with padding', opts: (B, S) => ({ keyPaddingMask: boolMask(Array.from({ length: B * S }, (_, i) => (i % 7 === 2 ? 0 : 1)), B, S) }) },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const B = 2, Hq = 4, Hkv = 2, N = 70, D = 16;
      T.tidy(() => {
        T.manualSeed(5);
        const q = T.randn([B, Hq, N, D]), k = T.randn([B, Hkv, N, D]), v = T.randn([B, Hkv, N, D]);
        const go = T.randn([B, Hq, N, D]);
        expectFusedMatchesUnfused([q, k, v], go, c.opts(B, N));
      });
    });
  }
});

describe('fused attention, wide heads and determinism', () => {
  // head dims beyond one 64-lane register block (and not a multiple of 16) against the unfused ops
  for (const D of [80, 128]) {
    test(`D=${D}: fused == unfused, forward and gradients`, () => {
      T.tidy(() => {
        T.manualSeed(D);
        const q = T.randn([1, 4, 20, D]), k = T.randn([1, 2, 20, D]), v = T.randn([1, 2, 20, D]), go = T.randn([1, 4, 20, D]);
        expectFusedMatchesUnfused([q, k, v], go, { causal: true });
      });
    });
  }

  // B * Hkv = 1 is below the thread count: the backward splits by query head and sums the partial dK/dV
  test('one sequence with MQA: fused == unfused, gradients deterministic', () => {
    T.tidy(() => {
      T.manualSeed(4);
      const q = T.randn([1, 4, 70, 16]), k = T.randn([1, 1, 70, 16]), v = T.randn([1, 1, 70, 16]), go = T.randn([1, 4, 70, 16]);
      const fused = expectFusedMatchesUnfused([q, k, v], go, { causal: true });
      const again = outAndGrads(T.scaledDotProductAttention, [q, k, v], go, { causal: true });
      expect(again.map((r) => Array.from(r.data))).toEqual(fused.map((r) => Array.from(r.data)));
    });
  });

  test('repeated runs give bit-identical outputs and gradients', () => {
    T.tidy(() => {
      T.manualSeed(9);
      const q = T.randn([4, 4, 100, 16]), k = T.randn([4, 2, 100, 16]), v = T.randn([4, 2, 100, 16]), go = T.randn([4, 4, 100, 16]);
      const run = () => outAndGrads(T.scaledDotProductAttention, [q, k, v], go, { causal: true }).map((r) => Array.from(r.data));
      expect(run()).toEqual(run());
    });
  });
});

test('forward + backward inside tidy releases all native memory', () => {
  const run = () => T.tidy(() => {
    const q = T.randn([2, 4, 33, 16], { requiresGrad: true }), k = T.randn([2, 2, 33, 16], { requiresGrad: true });
    const v = T.randn([2, 2, 33, 16], { requiresGrad: true });
    T.sum(T.scaledDotProductAttention(q, k, v, { causal: true, keyPaddingMask: T.ones([2, 33], { dtype: 'bool' }) })).backward();
    for (const t of [q, k, v]) t.zeroGrad();
  });
  run();  // warm any caches before measuring
  const before = T.memStats().liveBytes;
  for (let i = 0; i < 3; i++) run();
  expect(T.memStats().liveBytes).toBe(before);
});
