// Incremental decoding with the KV cache equals the full forward pass: one row, and a left-padded
// batch of prompts of different lengths (attention mask + position ids), on the plain model and on
// the Stellar variants that touch attention.
import { Tensor, noGrad, slice, tidy } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, positionsFromMask, type ModelConfig } from '../src';
import { maxDiff } from './util/fixture';

const base: Partial<ModelConfig> = { vocabSize: 40, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, initializerRange: 0.2, maxPositionEmbeddings: 64 };
const ids2d = (rows: number[][]) => Tensor.fromArray(rows.flat(), [rows.length, rows[0].length], { dtype: 'int32' });
const seq = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (i * 7 + seed * 13 + 3) % 40);

/** Logits of position `t` of row `b` as a flat array. */
function at(logits: Tensor, b: number, t: number): Tensor { return slice(slice(logits, 0, b, b + 1), 1, t, t + 1); }

function expectClose(a: Tensor, b: Tensor, tol = 2e-5): void {
  const d = maxDiff(a, b);
  expect(d.scale).toBeGreaterThan(0.01);
  expect(d.abs).toBeLessThan(tol);
}

const variants: [string, Partial<ModelConfig>][] = [
  ['llama', {}],
  ['xpos + gated attention + layer scale + linear rope', { xposScaleBase: 64, attentionGate: true, layerScaleInit: 0.5, ropeScaling: { type: 'linear', factor: 2 } }],
  ['parallel residual, MQA', { parallelResidual: true, numKeyValueHeads: 1 }],
];

describe.each(variants)('KV cache (%s)', (_name, extra) => {
  const model = new StellarForCausalLM(makeConfig({ ...base, ...extra }), { seed: 3 }).eval();
  afterAll(() => model.dispose());

  test('prompt, then one token at a time, equals the full forward', () => noGrad(() => tidy(() => {
    const tokens = seq(10, 1);
    const full = model.forward(ids2d([tokens])).logits;   // (1, 10, V)
    const cache = model.createCache(1, 16);
    const first = model.forward(ids2d([tokens.slice(0, 4)]), { cache }).logits;
    for (let t = 0; t < 4; t++) expectClose(at(first, 0, t), at(full, 0, t));
    for (let t = 4; t < 10; t++) {
      const step = model.forward(ids2d([[tokens[t]]]), { cache, logitsToKeep: 1 }).logits;   // (1, 1, V)
      expectClose(step, at(full, 0, t));
    }
    expect(cache.length).toBe(10);
    cache.dispose();
  })));

  test('a left-padded batch of different prompt lengths decodes like each row alone', () => noGrad(() => tidy(() => {
    const rows = [seq(9, 2), seq(5, 3), seq(7, 4)];
    const P = 9, steps = 4;
    const next = [seq(steps, 5), seq(steps, 6), seq(steps, 7)];
    const B = rows.length;
    const padded = rows.map((r) => [...new Array(P - r.length).fill(0), ...r]);
    const maskRows = rows.map((r) => [...new Array(P - r.length).fill(0), ...new Array(r.length).fill(1)]);
    const cache = model.createCache(B, P + steps);
    const mask = (S: number) => Tensor.fromArray(maskRows.map((m) => [...m, ...new Array(S - P).fill(1)]).flat(), [B, S], { dtype: 'int32' });
    const posAll = (S: number) => positionsFromMask(maskRows.map((m) => [...m, ...new Array(S - P).fill(1)]).flat(), B, S);
    const pos0 = posAll(P);
    const out0 = model.forward(ids2d(padded), { cache, attentionMask: mask(P), positionIds: Tensor.fromArray(pos0, [B, P], { dtype: 'int32' }) }).logits;
    const alone = rows.map((r, b) => model.forward(ids2d([[...r, ...next[b]]])).logits);   // (1, len + steps, V)
    for (let b = 0; b < B; b++) expectClose(at(out0, b, P - 1), at(alone[b], 0, rows[b].length - 1));
    for (let s = 0; s < steps; s++) {
      const S = P + s + 1;
      const p = posAll(S);
      const posStep = Tensor.fromArray(Array.from({ length: B }, (_, b) => p[b * S + S - 1]), [B, 1], { dtype: 'int32' });
      const out = model.forward(ids2d(next.map((n) => [n[s]])), { cache, attentionMask: mask(S), positionIds: posStep }).logits;
      for (let b = 0; b < B; b++) expectClose(at(out, b, 0), at(alone[b], 0, rows[b].length + s));
    }
    cache.dispose();
  })));
});

test('a cache refuses gradients, overflow and a wrong batch, each with a clear error', () => {
  const model = new StellarForCausalLM(makeConfig(base), { seed: 1 });
  const cache = model.createCache(1, 4);
  expect(() => model.forward(ids2d([[1, 2]]), { cache })).toThrow(/run it under noGrad/);
  noGrad(() => {
    expect(() => model.forward(ids2d([[1, 2, 3, 4, 5]]), { cache })).toThrow(/exceed the capacity 4/);
    expect(() => model.forward(ids2d([[1], [2]]), { cache })).toThrow(/batch 2 does not match/);
    expect(() => model.forward(ids2d([[1, 2]]), { attentionMask: Tensor.fromArray([1, 1, 1], [1, 3], { dtype: 'int32' }) })).toThrow(/attentionMask must be \(B, S\) = \(1, 2\)/);
  });
  cache.dispose();
  model.dispose();
});
