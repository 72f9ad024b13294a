// Segment ids in fused attention (packed rows, one sample per segment): forward and gradients against a
// float64 loop reference with its analytic backward (itself checked against finite differences), finite
// differences of the fused op on small shapes, fused == unfused, tiles that are fully, partly or not
// covered by a query tile's segments (T up to 150, segment bounds on and off the 64-wide tiles), ids that
// are not contiguous, the few-query row path with a KV offset, and the input checks.
import * as T from '@stellar/tensor';
import { checkOp, expectClose, toRef } from './util/check-op';
import { Ref, rng, randRef } from './util/ref';

interface Opts { causal?: boolean; scale?: number; mask?: number[] /* (B, S) 0/1 */; seg?: number[] /* (B, S) ids */ }

/** Row-major flat index helpers for (B, H, N, D) float64 data. */
const at4 = (shape: number[]) => (b: number, h: number, i: number, d: number) => ((b * shape[1] + h) * shape[2] + i) * shape[3] + d;

/** Whether query i of row b (key position S - T + i) may see key j. */
function visible(o: Opts, b: number, i: number, j: number, Tq: number, S: number): boolean {
  const p = S - Tq + i;
  if (o.causal && j > p) return false;
  if (o.mask && o.mask[b * S + j] !== 1) return false;
  return !o.seg || o.seg[b * S + j] === o.seg[b * S + p];
}

/**
 * Float64 attention with segment ids and its analytic backward: P = softmax(scale q k^T + masks),
 * out = P v; from go: dv = P^T go, dP = go v^T, dS = P (dP - rowsum(P dP)), dq = scale dS k,
 * dk = scale dS^T q. Rows that see no key give zeros.
 */
function refAttention(q: Ref, k: Ref, v: Ref, o: Opts, go?: Ref): { out: Ref; dq?: Ref; dk?: Ref; dv?: Ref } {
  const [B, Hq, Tq, D] = q.shape;
  const [, Hkv, S] = k.shape;
  const group = Hq / Hkv, scale = o.scale ?? 1 / Math.sqrt(D);
  const iq = at4(q.shape), ik = at4(k.shape);
  const out = Ref.zeros(q.shape), dq = Ref.zeros(q.shape), dk = Ref.zeros(k.shape), dv = Ref.zeros(k.shape);
  const p = new Float64Array(S), dp = new Float64Array(S);
  for (let b = 0; b < B; b++) for (let h = 0; h < Hq; h++) {
    const kh = Math.floor(h / group);
    for (let i = 0; i < Tq; i++) {
      let m = -Infinity;
      for (let j = 0; j < S; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q.data[iq(b, h, i, d)] * k.data[ik(b, kh, j, d)];
        p[j] = visible(o, b, i, j, Tq, S) ? scale * dot : -Infinity;
        m = Math.max(m, p[j]);
      }
      if (m === -Infinity) continue;
      let z = 0;
      for (let j = 0; j < S; j++) { p[j] = Math.exp(p[j] - m); z += p[j]; }
      for (let j = 0; j < S; j++) p[j] /= z;
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = 0; j < S; j++) acc += p[j] * v.data[ik(b, kh, j, d)];
        out.data[iq(b, h, i, d)] = acc;
      }
      if (!go) continue;
      let rs = 0;
      for (let j = 0; j < S; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += go.data[iq(b, h, i, d)] * v.data[ik(b, kh, j, d)];
        dp[j] = dot;
        rs += p[j] * dot;
      }
      for (let j = 0; j < S; j++) {
        if (p[j] === 0) continue;
        const ds = p[j] * (dp[j] - rs);
        for (let d = 0; d < D; d++) {
          dv.data[ik(b, kh, j, d)] += p[j] * go.data[iq(b, h, i, d)];
          dq.data[iq(b, h, i, d)] += scale * ds * k.data[ik(b, kh, j, d)];
          dk.data[ik(b, kh, j, d)] += scale * ds * q.data[iq(b, h, i, d)];
        }
      }
    }
  }
  return go ? { out, dq, dk, dv } : { out };
}

/** (B, S) ids from per-row segment lengths: row r gets ids 0, 1, 2, ... over runs of those lengths. */
function packed(lengths: number[][]): number[] {
  return lengths.flatMap((row) => row.flatMap((n, s) => new Array<number>(n).fill(s)));
}

const toTensor = (r: Ref, requiresGrad = false) => T.tensor(Float32Array.from(r.data), { shape: r.shape, requiresGrad });
const segTensor = (ids: number[], B: number, S: number) => T.tensor(Int32Array.from(ids), { shape: [B, S], dtype: 'int32' });
const boolMask = (vals: number[], B: number, S: number) => T.tensor(Uint8Array.from(vals), { shape: [B, S], dtype: 'bool' });
const optsOf = (o: Opts, B: number, S: number): T.AttentionOptions => ({
  causal: o.causal, scale: o.scale,
  keyPaddingMask: o.mask ? boolMask(o.mask, B, S) : undefined,
  segmentIds: o.seg ? segTensor(o.seg, B, S) : undefined,
});

/** Output and dq, dk, dv of `attend` on fresh leaves, backward from go. */
function outAndGrads(attend: typeof T.scaledDotProductAttention, qkv: T.Tensor[], go: T.Tensor, opts: T.AttentionOptions): Ref[] {
  const [a, b, c] = qkv.map((t) => t.detach().requiresGrad_());
  const out = attend(a, b, c, opts);
  out.backward(go);
  return [out, a.grad!, b.grad!, c.grad!].map(toRef);
}

interface Case { name: string; B: number; Hq: number; Hkv: number; T: number; S: number; D: number; o: Opts }

// Padding at the end of row 1 (its own id, masked out): the padded queries see no key at all.
const pad = (B: number, S: number, padFrom: number[]) => Array.from({ length: B * S }, (_, x) => (x % S < padFrom[Math.floor(x / S)] ? 1 : 0));
const cases: Case[] = [
  { name: 'GQA causal, D=16, 3 and 2 segments, padded tail', B: 2, Hq: 4, Hkv: 2, T: 100, S: 100, D: 16,
    o: { causal: true, seg: packed([[30, 45, 25], [60, 28, 12]]), mask: pad(2, 100, [100, 88]) } },
  { name: 'GQA causal, D=32, T=150, segments on and off the tile bounds', B: 2, Hq: 4, Hkv: 2, T: 150, S: 150, D: 32,
    o: { causal: true, seg: packed([[64, 64, 22], [3, 90, 57]]) } },
  { name: 'odd D=13, causal + padding, 3 segments per row', B: 2, Hq: 4, Hkv: 2, T: 80, S: 80, D: 13,
    o: { causal: true, seg: packed([[20, 41, 19], [7, 66, 7]]), mask: pad(2, 80, [80, 73]) } },
  { name: 'D=20 (not a multiple of the lanes), non-causal, T=130', B: 1, Hq: 4, Hkv: 2, T: 130, S: 130, D: 20, o: { seg: packed([[50, 47, 33]]) } },
  { name: 'ids not contiguous (0 0 1 1 0 0 2 ...), causal', B: 1, Hq: 4, Hkv: 2, T: 96, S: 96, D: 16,
    o: { causal: true, seg: [0, 1, 0, 2, 1, 0].flatMap((id) => new Array<number>(16).fill(id)) } },
  { name: 'ids not contiguous, non-causal, with padding', B: 1, Hq: 2, Hkv: 1, T: 90, S: 90, D: 16,
    o: { seg: Array.from({ length: 90 }, (_, j) => [0, 0, 1, 1, 0, 0][Math.floor(j / 15)]), mask: pad(1, 90, [80]) } },
  { name: 'one id per row equals the plain causal attention', B: 2, Hq: 4, Hkv: 2, T: 70, S: 70, D: 16, o: { causal: true, seg: new Array<number>(140).fill(7) } },
  { name: 'every token its own segment', B: 1, Hq: 2, Hkv: 1, T: 70, S: 70, D: 16, o: { causal: true, seg: Array.from({ length: 70 }, (_, j) => j) } },
  { name: 'row path (T=6, D=16): T == S', B: 2, Hq: 4, Hkv: 2, T: 6, S: 6, D: 16, o: { causal: true, seg: packed([[2, 4], [1, 3, 2]]) } },
  { name: 'row path: KV offset T=4, S=20', B: 1, Hq: 4, Hkv: 2, T: 4, S: 20, D: 32, o: { causal: true, seg: packed([[9, 9, 2]]) } },
  { name: 'tile path with a KV offset T=40, S=100, scale 0.5', B: 1, Hq: 2, Hkv: 2, T: 40, S: 100, D: 8, o: { causal: true, scale: 0.5, seg: packed([[70, 30]]) } },
];

describe('segment ids: fused attention vs float64 reference (forward and analytic gradients)', () => {
  for (const c of cases) {
    test(c.name, () => {
      const r = rng(21);
      const q = randRef([c.B, c.Hq, c.T, c.D], r, -2, 2), k = randRef([c.B, c.Hkv, c.S, c.D], r, -2, 2), v = randRef([c.B, c.Hkv, c.S, c.D], r);
      const go = randRef([c.B, c.Hq, c.T, c.D], r);
      for (const x of [q, k, v, go]) for (let i = 0; i < x.size; i++) x.data[i] = Math.fround(x.data[i]);
      const want = refAttention(q, k, v, c.o, go);
      T.tidy(() => {
        const got = outAndGrads(T.scaledDotProductAttention, [q, k, v].map((x) => toTensor(x)), toTensor(go), optsOf(c.o, c.B, c.S));
        expectClose(got[0], want.out, 1e-5, 1e-5, 'output');
        expectClose(got[1], want.dq!, 1e-4, 1e-4, 'dq');
        expectClose(got[2], want.dk!, 1e-4, 1e-4, 'dk');
        expectClose(got[3], want.dv!, 1e-4, 1e-4, 'dv');
      });
    });
  }

  test('the reference backward agrees with finite differences of the reference forward', () => {
    const o: Opts = { causal: true, seg: [0, 0, 0, 5, 5, 5, 5], mask: [1, 1, 1, 1, 1, 1, 0] };
    const r = rng(5);
    const q = randRef([1, 2, 7, 4], r), k = randRef([1, 1, 7, 4], r), v = randRef([1, 1, 7, 4], r), go = randRef([1, 2, 7, 4], r);
    const g = refAttention(q, k, v, o, go);
    const loss = (xs: Ref[]) => refAttention(xs[0], xs[1], xs[2], o).out.data.reduce((s, y, n) => s + y * go.data[n], 0);
    [g.dq!, g.dk!, g.dv!].forEach((want, which) => {
      const fd = Ref.zeros(want.shape), eps = 1e-6;
      for (let n = 0; n < fd.size; n++) {
        const p = [q, k, v].map((x) => x.clone()), m = [q, k, v].map((x) => x.clone());
        p[which].data[n] += eps;
        m[which].data[n] -= eps;
        fd.data[n] = (loss(p) - loss(m)) / (2 * eps);
      }
      expectClose(want, fd, 1e-6, 1e-5, ['dq', 'dk', 'dv'][which]);
    });
  });
});

describe('segment ids: fused gradients vs finite differences', () => {
  const gradCheck = (Hq: number, Hkv: number, Tq: number, S: number, D: number, o: Opts, attend = T.scaledDotProductAttention) => checkOp({
    inputs: [{ shape: [1, Hq, Tq, D] }, { shape: [1, Hkv, S, D] }, { shape: [1, Hkv, S, D] }],
    ours: (q, k, v) => attend(q, k, v, optsOf(o, 1, S)),
    ref: (q, k, v) => refAttention(q, k, v, o).out,
  });
  test('GQA causal, 3 segments', () => gradCheck(4, 2, 12, 12, 4, { causal: true, seg: packed([[4, 5, 3]]) }));
  test('causal + padding, pad has its own id', () => gradCheck(2, 1, 10, 10, 4, { causal: true, seg: [0, 0, 0, 1, 1, 1, 1, 9, 9, 9], mask: [1, 1, 1, 1, 1, 1, 1, 0, 0, 0] }));
  test('ids not contiguous (0 0 1 1 0 0), non-causal', () => gradCheck(2, 1, 6, 6, 4, { seg: [0, 0, 1, 1, 0, 0] }));
  test('row path (T=3, D=16) with a KV offset', () => gradCheck(2, 1, 3, 7, 16, { causal: true, seg: [0, 0, 0, 1, 1, 1, 1] }));
  test('attentionUnfused too', () => gradCheck(2, 1, 8, 8, 4, { causal: true, seg: [0, 0, 1, 1, 0, 0, 2, 2] }, T.attentionUnfused));
});

describe('segment ids: fused == unfused and the no-segment path', () => {
  test('fused == unfused, forward and gradients (GQA, T=100, padding)', () => {
    const B = 2, Hq = 4, Hkv = 2, N = 100, D = 16;
    T.tidy(() => {
      T.manualSeed(31);
      const q = T.randn([B, Hq, N, D]), k = T.randn([B, Hkv, N, D]), v = T.randn([B, Hkv, N, D]), go = T.randn([B, Hq, N, D]);
      const opts = optsOf({ causal: true, seg: packed([[10, 70, 20], [33, 33, 34]]), mask: pad(2, N, [100, 95]) }, B, N);
      const fused = outAndGrads(T.scaledDotProductAttention, [q, k, v], go, opts), unfused = outAndGrads(T.attentionUnfused, [q, k, v], go, opts);
      ['output', 'dq', 'dk', 'dv'].forEach((what, i) => expectClose(fused[i], unfused[i], 1e-5, 1e-5, what));
    });
  });

  test('a single id everywhere gives bit-identical results to no segment ids', () => {
    T.tidy(() => {
      T.manualSeed(8);
      const q = T.randn([2, 4, 90, 16]), k = T.randn([2, 2, 90, 16]), v = T.randn([2, 2, 90, 16]), go = T.randn([2, 4, 90, 16]);
      const plain = outAndGrads(T.scaledDotProductAttention, [q, k, v], go, { causal: true });
      const seg = outAndGrads(T.scaledDotProductAttention, [q, k, v], go, { causal: true, segmentIds: segTensor(new Array(180).fill(3), 2, 90) });
      expect(seg.map((r) => Array.from(r.data))).toEqual(plain.map((r) => Array.from(r.data)));
    });
  });

  test('a sample packed after another gives the same output and gradients as alone', () => {
    // row = [A (37 tokens) ; B (50 tokens)]: B's queries, keys and values alone give B's part of the packed result
    const nA = 37, nB = 50, N = nA + nB, D = 16;
    T.tidy(() => {
      T.manualSeed(12);
      const q = T.randn([1, 2, N, D]), k = T.randn([1, 1, N, D]), v = T.randn([1, 1, N, D]), go = T.randn([1, 2, N, D]);
      const whole = outAndGrads(T.scaledDotProductAttention, [q, k, v], go, { causal: true, segmentIds: segTensor(packed([[nA, nB]]), 1, N) });
      const partOf = (t: T.Tensor) => T.contiguous(T.slice(t, 2, nA));
      const alone = outAndGrads(T.scaledDotProductAttention, [q, k, v].map(partOf), partOf(go), { causal: true });
      const sliceRef = (r: Ref) => toRef(partOf(toTensor(r)));
      alone.forEach((a, i) => expectClose(sliceRef(whole[i]), a, 1e-6, 1e-5, ['output', 'dq', 'dk', 'dv'][i]));
    });
  });
});

describe('segment ids: input checks', () => {
  test('rejects a wrong dtype, shape, or more queries than keys', () => {
    T.tidy(() => {
      const q = T.zeros([1, 2, 4, 8]), k = T.zeros([1, 1, 4, 8]);
      expect(() => T.scaledDotProductAttention(q, k, k, { segmentIds: T.zeros([1, 4]) })).toThrow(/segmentIds must be a \(B, S\) = \(1, 4\) int32 tensor, got float32/);
      expect(() => T.scaledDotProductAttention(q, k, k, { segmentIds: T.zeros([1, 4], { dtype: 'int64' }) })).toThrow(/int32 tensor, got int64/);
      expect(() => T.scaledDotProductAttention(q, k, k, { segmentIds: T.zeros([1, 5], { dtype: 'int32' }) })).toThrow(/\(B, S\) = \(1, 4\)/);
      expect(() => T.attentionUnfused(q, k, k, { segmentIds: T.zeros([4], { dtype: 'int32' }) })).toThrow(/segmentIds/);
      const k3 = T.zeros([1, 1, 3, 8]);
      expect(() => T.scaledDotProductAttention(q, k3, k3, { causal: true, segmentIds: T.zeros([1, 3], { dtype: 'int32' }) })).toThrow(/T = 4 > S = 3/);
    });
  });

  test('forward + backward with segment ids releases all native memory', () => {
    const run = () => T.tidy(() => {
      const q = T.randn([2, 4, 33, 16], { requiresGrad: true }), k = T.randn([2, 2, 33, 16], { requiresGrad: true });
      const v = T.randn([2, 2, 33, 16], { requiresGrad: true });
      T.sum(T.scaledDotProductAttention(q, k, v, { causal: true, segmentIds: segTensor(packed([[13, 20], [30, 3]]), 2, 33) })).backward();
      for (const t of [q, k, v]) t.zeroGrad();
    });
    run();
    const before = T.memStats().liveBytes;
    for (let i = 0; i < 3; i++) run();
    expect(T.memStats().liveBytes).toBe(before);
  });
});
