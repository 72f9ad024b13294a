// Model options beyond the golden fixtures: gradient checkpointing (same loss and gradients, the
// dropout masks replayed), training-only randomness, DeepNorm's init, logitsToKeep, and the
// sequence-score and value heads.
import { Tensor, noGrad, tidy } from '@stellar/tensor';
import { StellarForCausalLM, StellarForSequenceClassification, StellarForCausalLMWithValueHead, makeConfig, type ModelConfig } from '../src';
import { maxDiff } from './util/fixture';

const base: Partial<ModelConfig> = { vocabSize: 40, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 3, numAttentionHeads: 4, numKeyValueHeads: 2, initializerRange: 0.2 };
const ids = () => Tensor.fromArray([1, 5, 9, 2, 7, 3, 8, 4, 6, 11, 12, 13, 14, 15], [2, 7], { dtype: 'int32' });

function lossAndGrads(model: StellarForCausalLM): [number, Map<string, Float64Array>] {
  model.zeroGrad();
  const l = tidy(() => { const { loss } = model.forward(ids(), { labels: ids() }); loss!.backward(); return loss!.item(); });
  return [l, new Map([...model.namedParameters()].map(([n, p]) => [n, p.grad!.toFloat64()]))];
}

test.each([
  ['plain', {}],
  ['with dropout and drop-path (masks replayed in the recomputation)', { hiddenDropout: 0.2, dropPath: 0.3, layerScaleInit: 0.7 }],
])('gradient checkpointing gives the same loss and gradients (%s)', (_n, extra) => {
  const cfg = makeConfig({ ...base, ...extra });
  const a = new StellarForCausalLM(cfg, { seed: 4 }).train();
  const b = new StellarForCausalLM(cfg, { seed: 4 }).train().gradientCheckpointingEnable();
  const [la, ga] = lossAndGrads(a);
  const [lb, gb] = lossAndGrads(b);
  expect(Math.abs(la - lb)).toBeLessThan(1e-6);
  for (const [n, g] of ga) {
    const h = gb.get(n)!;
    let d = 0, s = 0;
    for (let i = 0; i < g.length; i++) { d = Math.max(d, Math.abs(g[i] - h[i])); s = Math.max(s, Math.abs(g[i])); }
    expect(d).toBeLessThanOrEqual(1e-6 + 1e-5 * s);
  }
  a.dispose(); b.dispose();
});

test('dropout and drop-path act in training only; eval is deterministic and equals a model without them', () => {
  const plain = new StellarForCausalLM(makeConfig(base), { seed: 2 });
  const noisy = new StellarForCausalLM(makeConfig({ ...base, hiddenDropout: 0.3, dropPath: 0.5 }), { seed: 2 });
  noGrad(() => tidy(() => {
    const e1 = noisy.eval().forward(ids()).logits, e2 = plain.eval().forward(ids()).logits;
    expect(maxDiff(e1, e2).abs).toBe(0);
    const t1 = noisy.train().forward(ids()).logits, t2 = noisy.forward(ids()).logits;
    expect(maxDiff(t1, e1).abs).toBeGreaterThan(1e-3);   // masks change the output
    expect(maxDiff(t1, t2).abs).toBeGreaterThan(1e-3);   // and are redrawn each pass
  }));
  plain.dispose(); noisy.dispose();
});

test('DeepNorm scales the value/output/FFN init by beta = (8N)^-1/4 and leaves q, k alone', () => {
  const N = 3, std = 0.2, beta = (8 * N) ** -0.25;
  const m = new StellarForCausalLM(makeConfig({ ...base, hiddenSize: 64, intermediateSize: 128, deepNorm: true }), { seed: 9 });
  const sd = (name: string) => { const v = m.stateDict().get(name)!.toFloat64(); return Math.sqrt(v.reduce((a, x) => a + x * x, 0) / v.length); };
  for (const n of ['self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']) {
    expect(Math.abs(sd(`model.layers.1.${n}.weight`) / (beta * std) - 1)).toBeLessThan(0.1);
  }
  for (const n of ['self_attn.q_proj', 'self_attn.k_proj']) expect(Math.abs(sd(`model.layers.1.${n}.weight`) / std - 1)).toBeLessThan(0.1);
  m.dispose();
});

test('logitsToKeep returns the last positions only, equal to the full logits there', () => {
  const m = new StellarForCausalLM(makeConfig(base), { seed: 5 }).eval();
  noGrad(() => tidy(() => {
    const full = m.forward(ids()).logits, last = m.forward(ids(), { logitsToKeep: 2 }).logits;
    expect(last.shape).toEqual([2, 2, 40]);
    expect(maxDiff(last, full.slice(1, 5)).abs).toBe(0);
  }));
  m.dispose();
});

test('sequence score (reward model): scored at the last real token, left padding and pad ids handled', () => {
  const cfg = makeConfig({ ...base, padTokenId: 0 });
  const rm = new StellarForSequenceClassification(cfg, { seed: 6 }).eval();
  expect([...rm.stateDict().keys()]).toContain('score.weight');
  noGrad(() => tidy(() => {
    const alone = rm.forward(Tensor.fromArray([5, 9, 2, 7], [1, 4], { dtype: 'int32' }));
    const right = rm.forward(Tensor.fromArray([5, 9, 2, 7, 0, 0], [1, 6], { dtype: 'int32' }));          // pad ids at the end
    const left = rm.forward(Tensor.fromArray([0, 0, 5, 9, 2, 7], [1, 6], { dtype: 'int32' }),
      { attentionMask: Tensor.fromArray([0, 0, 1, 1, 1, 1], [1, 6], { dtype: 'int32' }), positionIds: Tensor.fromArray([1, 1, 0, 1, 2, 3], [1, 6], { dtype: 'int32' }) });
    const r = alone.scores.item();
    expect(Math.abs(r)).toBeGreaterThan(1e-4);
    expect(Math.abs(right.scores.item() - r)).toBeLessThan(1e-5);
    expect(Math.abs(left.scores.item() - r)).toBeLessThan(1e-5);
    expect(alone.tokenScores.shape).toEqual([1, 4, 1]);
  }));
  rm.dispose();
});

test('value head: per-token values on the policy trunk; gradients reach the head and the trunk', () => {
  const policy = new StellarForCausalLM(makeConfig(base), { seed: 7 });
  const ac = new StellarForCausalLMWithValueHead(policy);
  expect([...ac.stateDict().keys()]).toEqual(expect.arrayContaining(['v_head.summary.weight', 'v_head.summary.bias', 'pretrained_model.model.norm.weight']));
  tidy(() => {
    const out = ac.forward(ids(), { labels: ids() });
    expect(out.values.shape).toEqual([2, 7]);
    out.values.sum().add(out.loss!).backward();
  });
  expect(ac.vHead.summary.weight.grad).not.toBeNull();
  expect(policy.model.layers.items[0].selfAttn.qProj.weight.grad).not.toBeNull();
  ac.dispose();
});
