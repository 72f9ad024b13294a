// Packed rows: several samples in one row with segmentIds and positions restarting at 0 per sample give
// each sample the logits and the parameter gradients (of a sum of per-token losses) it gets alone, with
// and without gradient checkpointing and a padding mask; a packed prefill continues with the KV cache;
// the heads pass segmentIds through; bad segmentIds are rejected.
import { Tensor, add, crossEntropy, noGrad, slice, tidy } from '@stellar/tensor';
import { StellarForCausalLM, StellarForCausalLMWithValueHead, StellarForSequenceClassification, makeConfig, type ModelConfig } from '../src';
import { maxDiff } from './util/fixture';

const base: Partial<ModelConfig> = { vocabSize: 40, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, initializerRange: 0.2 };

/** n pseudo-random token ids in [1, 40). */
function sample(n: number, seed: number): number[] {
  let s = seed * 2654435761 % 4294967296;
  return Array.from({ length: n }, () => { s = (s * 1664525 + 1013904223) % 4294967296; return 1 + (s % 39); });
}

// row 0 = [A ; B ; 4 pads], row 1 = [C ; D]: different boundaries per row; pads get their own id (-1)
const A = sample(9, 1), Bs = sample(13, 2), C = sample(20, 3), Ds = sample(6, 4);
const N = 26, PAD = 4;
const rows = [[A, Bs], [C, Ds]];
interface Placed { tokens: number[]; row: number; off: number }
const placed: Placed[] = [{ tokens: A, row: 0, off: 0 }, { tokens: Bs, row: 0, off: 9 }, { tokens: C, row: 1, off: 0 }, { tokens: Ds, row: 1, off: 20 }];

const int32 = (vals: number[], shape: number[]) => Tensor.fromArray(vals, shape, { dtype: 'int32' });
const fill = (row: number[][], f: (s: number[], k: number) => number[], padWith: number) => {
  const out = row.flatMap(f);
  return [...out, ...new Array<number>(N - out.length).fill(padWith)];
};
const packedIds = () => int32(rows.flatMap((r) => fill(r, (s) => s, 0)), [2, N]);
const segmentIds = () => int32(rows.flatMap((r) => fill(r, (s, k) => s.map(() => k), -1)), [2, N]);
/** Positions restart at 0 in every sample (and in the pad run). */
const positionIds = () => int32(rows.flatMap((r) => {
  const pos = r.flatMap((smp) => smp.map((_, i) => i));
  return [...pos, ...Array.from({ length: N - pos.length }, (_, i) => i)];
}), [2, N]);
const attentionMask = () => int32(rows.flatMap((r, k) => new Array<number>(N).fill(1).map((v, i) => (k === 0 && i >= N - PAD ? 0 : v))), [2, N]);
/** Next-token targets inside each sample (-100 at each sample's last token and on pads). */
const targetsOf = (s: number[]) => s.map((_, i) => (i + 1 < s.length ? s[i + 1] : -100));
const packedTargets = () => int32(rows.flatMap((r) => fill(r, targetsOf, -100)), [2, N]);

function span(t: Tensor, p: Placed): Tensor { return slice(slice(t, 0, p.row, p.row + 1), 1, p.off, p.off + p.tokens.length); }

function gradsOf(model: StellarForCausalLM): Map<string, Float64Array> {
  return new Map([...model.namedParameters()].map(([n, p]) => [n, p.grad!.toFloat64()]));
}

function expectSameGrads(got: Map<string, Float64Array>, want: Map<string, Float64Array>): void {
  for (const [n, w] of want) {
    const g = got.get(n)!;
    let d = 0, s = 0;
    for (let i = 0; i < w.length; i++) { d = Math.max(d, Math.abs(g[i] - w[i])); s = Math.max(s, Math.abs(w[i])); }
    if (!(d <= 1e-5 + 1e-5 * s)) throw new Error(`${n}: gradients differ by ${d} (scale ${s})`);
  }
}

/** Each sample alone: its logits, and the parameter gradients of the summed per-token losses of all. */
function alone(model: StellarForCausalLM): { logits: Tensor[]; grads: Map<string, Float64Array> } {
  model.zeroGrad();
  const logits = tidy(() => {
    const outs = placed.map((p) => model.forward(int32(p.tokens, [1, p.tokens.length])).logits);   // (1, n, V)
    const losses = outs.map((l, k) => crossEntropy(l, int32(targetsOf(placed[k].tokens), [1, placed[k].tokens.length]), { reduction: 'sum' }));
    losses.reduce((a, b) => add(a, b)).backward();
    return outs;
  });
  return { logits, grads: gradsOf(model) };
}

describe.each([
  ['no checkpointing', false],
  ['gradient checkpointing', true],
])('packed rows (%s)', (_name, ckpt) => {
  const cfg = makeConfig(base);
  const model = new StellarForCausalLM(cfg, { seed: 5 }).train();
  const packed = new StellarForCausalLM(cfg, { seed: 5 }).train().gradientCheckpointingEnable(ckpt);
  let ref: ReturnType<typeof alone>;
  beforeAll(() => { ref = alone(model); });
  afterAll(() => { ref.logits.forEach((t) => t.dispose()); model.dispose(); packed.dispose(); });

  test.each([
    ['segment ids only (pads form their own segment)', false],
    ['segment ids + attention mask on the pads', true],
  ])('%s: each sample gets its logits and gradients alone', (_n, withMask) => {
    packed.zeroGrad();
    tidy(() => {
      const { logits } = packed.forward(packedIds(), { segmentIds: segmentIds(), positionIds: positionIds(), attentionMask: withMask ? attentionMask() : undefined });
      crossEntropy(logits, packedTargets(), { reduction: 'sum' }).backward();
      placed.forEach((p, k) => {
        const d = maxDiff(span(logits, p), ref.logits[k]);
        expect(d.scale).toBeGreaterThan(0.01);
        expect(d.abs).toBeLessThan(1e-5);
      });
    });
    expectSameGrads(gradsOf(packed), ref.grads);
  });
});

test('without segment ids the second sample of a row sees the first (the test above is not vacuous)', () => {
  const model = new StellarForCausalLM(makeConfig(base), { seed: 5 });
  noGrad(() => tidy(() => {
    const logits = model.forward(packedIds(), { positionIds: positionIds() }).logits;
    const aloneB = model.forward(int32(Bs, [1, Bs.length])).logits;
    expect(maxDiff(span(logits, placed[1]), aloneB).abs).toBeGreaterThan(1e-3);
  }));
  model.dispose();
});

test('a packed prefill continues token by token with the KV cache (segmentIds over cached + new keys)', () => {
  const model = new StellarForCausalLM(makeConfig(base), { seed: 6 }).eval();
  noGrad(() => tidy(() => {
    const full = model.forward(int32(Bs, [1, Bs.length])).logits;   // (1, 13, V): B alone
    const cache = model.createCache(1, 32);
    const pre = 5, seg = [...A.map(() => 0), ...new Array<number>(pre).fill(1)];
    const first = model.forward(int32([...A, ...Bs.slice(0, pre)], [1, A.length + pre]), {
      cache, segmentIds: int32(seg, [1, seg.length]), positionIds: int32([...A.map((_, i) => i), ...Array.from({ length: pre }, (_, i) => i)], [1, A.length + pre]),
    }).logits;
    const d0 = maxDiff(slice(first, 1, A.length), slice(full, 1, 0, pre));
    expect(d0.abs).toBeLessThan(1e-5);
    for (let t = pre; t < Bs.length; t++) {
      seg.push(1);
      const step = model.forward(int32([Bs[t]], [1, 1]), { cache, segmentIds: int32(seg, [1, seg.length]), positionIds: int32([t], [1, 1]) }).logits;
      expect(maxDiff(step, slice(full, 1, t, t + 1)).abs).toBeLessThan(1e-5);
    }
  }));
  model.dispose();
});

test('the value head and the sequence-score model pass segmentIds to the trunk', () => {
  const cfg = makeConfig(base);
  const vh = new StellarForCausalLMWithValueHead(new StellarForCausalLM(cfg, { seed: 7 }));
  const sc = new StellarForSequenceClassification(cfg, { seed: 8, numLabels: 2 });
  noGrad(() => tidy(() => {
    const opts = { segmentIds: segmentIds(), positionIds: positionIds() };
    const values = vh.forward(packedIds(), opts).values, tokenScores = sc.forward(packedIds(), opts).tokenScores;   // (2, N), (2, N, 2)
    for (const p of placed) {
      const one = int32(p.tokens, [1, p.tokens.length]);
      const v = slice(slice(values, 0, p.row, p.row + 1), 1, p.off, p.off + p.tokens.length);
      expect(maxDiff(v, vh.forward(one).values).abs).toBeLessThan(1e-5);
      expect(maxDiff(span(tokenScores, p), sc.forward(one).tokenScores).abs).toBeLessThan(1e-5);
    }
  }));
  vh.dispose(); sc.dispose();
});

test('rejects segmentIds of the wrong dtype or shape, naming the expected one', () => {
  const model = new StellarForCausalLM(makeConfig(base), { seed: 1 });
  noGrad(() => tidy(() => {
    const ids = packedIds();
    expect(() => model.forward(ids, { segmentIds: Tensor.fromArray(new Array(2 * N).fill(0), [2, N], { dtype: 'int64' }) })).toThrow(/segmentIds must be \(B, S\) = \(2, 26\) int32/);
    expect(() => model.forward(ids, { segmentIds: int32(new Array(N).fill(0), [1, N]) })).toThrow(/got int32 \[1, 26\]/);
    const cache = model.createCache(2, 40);
    model.forward(ids, { cache, segmentIds: segmentIds() });
    expect(() => model.forward(int32([1, 2], [2, 1]), { cache, segmentIds: int32([0, 0], [2, 1]) })).toThrow(/\(2, 27\) int32 covering cached and new positions/);
  }));
  model.dispose();
});
