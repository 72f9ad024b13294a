// Module bookkeeping: HF dotted names, parameter counts, train/eval, seeded init, and a strict
// loadStateDict that reports missing / unexpected / mis-shaped names and changes nothing on failure.
import { Tensor, zeros, ones } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, Linear, Embedding, RMSNorm, StateDictError } from '../src';

const cfg = makeConfig({ vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, initializerRange: 0.5 });

test('parameter names follow the HF LLaMA layout', () => {
  const m = new StellarForCausalLM(cfg);
  const names = [...m.namedParameters()].map(([n]) => n);
  const layer = (i: number) => ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj', 'input_layernorm', 'post_attention_layernorm']
    .map((s) => `model.layers.${i}.${s}.weight`);
  expect(names).toEqual(['model.embed_tokens.weight', ...layer(0), ...layer(1), 'model.norm.weight', 'lm_head.weight']);
  const shapes = Object.fromEntries([...m.namedParameters()].map(([n, p]) => [n, p.shape]));
  expect(shapes['model.layers.0.self_attn.k_proj.weight']).toEqual([8, 16]);   // 2 KV heads x head dim 4
  expect(shapes['lm_head.weight']).toEqual([40, 16]);
  m.dispose();
});

test('numParameters counts a tied embedding once', () => {
  const perLayer = 16 * 16 * 2 + 8 * 16 * 2 + 24 * 16 * 3 + 16 * 2;
  const untied = new StellarForCausalLM(cfg), tied = new StellarForCausalLM({ ...cfg, tieWordEmbeddings: true });
  expect(untied.numParameters()).toBe(40 * 16 * 2 + 2 * perLayer + 16);
  expect(tied.numParameters()).toBe(40 * 16 + 2 * perLayer + 16);
  expect([...tied.namedParameters()].some(([n]) => n === 'lm_head.weight')).toBe(false);
  untied.dispose(); tied.dispose();
});

test('train() / eval() reach every submodule', () => {
  const m = new StellarForCausalLM(cfg);
  expect([...m.namedModules()].every(([, s]) => s.training)).toBe(true);
  m.eval();
  expect([...m.namedModules()].some(([, s]) => s.training)).toBe(false);
  expect([...m.namedModules()].map(([n]) => n)).toContain('model.layers.1.mlp');
  m.train();
  expect(m.model.layers.items[1].mlp.training).toBe(true);
  m.dispose();
});

test('initialisation is deterministic in the seed, normal(0, initializerRange), norms at 1', () => {
  const a = new StellarForCausalLM(cfg, { seed: 3 }), b = new StellarForCausalLM(cfg, { seed: 3 }), c = new StellarForCausalLM(cfg, { seed: 4 });
  const w = (m: StellarForCausalLM, n: string) => Array.from(m.stateDict().get(n)!.toFloat64());
  const all = (m: StellarForCausalLM) => [...m.stateDict().keys()].filter((n) => !n.endsWith('norm.weight')).flatMap((n) => w(m, n));
  expect(all(a)).toEqual(all(b));
  expect(all(a)).not.toEqual(all(c));
  const xs = all(a);
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
  expect(Math.abs(mean)).toBeLessThan(0.02);
  expect(std).toBeGreaterThan(0.45); expect(std).toBeLessThan(0.55);
  expect(w(a, 'model.norm.weight').every((x) => x === 1)).toBe(true);
  a.dispose(); b.dispose(); c.dispose();
});

test('padTokenId zeroes its embedding row and keeps it out of the gradient', () => {
  const e = new Embedding(6, 3, { paddingIdx: 2, std: 1 });
  expect(Array.from(e.weight.data.toFloat64()).slice(6, 9)).toEqual([0, 0, 0]);
  const ids = Tensor.fromArray([2, 1, 2, 5], [2, 2], { dtype: 'int64' });
  e.forward(ids).sum().backward();
  expect(Array.from(e.weight.grad!.toFloat64())).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
});

test('loadStateDict copies by name and reports every missing, unexpected and mis-shaped name', () => {
  const lin = new Linear(3, 2, { bias: true });
  lin.loadStateDict({ weight: ones([2, 3]), bias: zeros([2]) });
  expect(Array.from(lin.forward(Tensor.fromArray([1, 2, 3], [1, 3])).toFloat64())).toEqual([6, 6]);
  const before = Array.from(lin.weight.data.toFloat64());
  let err: StateDictError | null = null;
  try { lin.loadStateDict({ weight: zeros([3, 2]), extra: zeros([1]) }); } catch (e) { err = e as StateDictError; }
  expect(err).toBeInstanceOf(StateDictError);
  expect(err!.missing).toEqual(['bias']);
  expect(err!.unexpected).toEqual(['extra']);
  expect(err!.misshaped).toEqual(['weight is [3, 2], expected [2, 3]']);
  expect(err!.message).toMatch(/missing: bias \| unexpected: extra \| wrong shape: weight is \[3, 2\], expected \[2, 3\]/);
  expect(Array.from(lin.weight.data.toFloat64())).toEqual(before);   // nothing was copied
  // non-strict: names may be missing or extra, shapes must still fit
  expect(lin.loadStateDict({ weight: zeros([2, 3]), extra: zeros([1]) }, { strict: false })).toEqual({ missing: ['bias'], unexpected: ['extra'] });
  expect(Array.from(lin.weight.data.toFloat64())).toEqual([0, 0, 0, 0, 0, 0]);
  expect(() => lin.loadStateDict({ bias: zeros([5]) }, { strict: false })).toThrow(/bias is \[5\], expected \[2\]/);
});

test('RMSNorm normalises the last dim and scales by its weight', () => {
  const n = new RMSNorm(2, 0);
  n.loadStateDict({ weight: Tensor.fromArray([1, 2], [2]) });
  const y = Array.from(n.forward(Tensor.fromArray([3, 4], [1, 2])).toFloat64());
  const r = Math.sqrt((9 + 16) / 2);
  expect(y[0]).toBeCloseTo(3 / r, 6); expect(y[1]).toBeCloseTo(8 / r, 6);
});
