// LoRA behaviour on small models: injection by name or RegExp, PEFT init, the forward formula against
// a float64 reference, frozen base (no base gradients), merge == unmerged forward and unmerge restores
// the weights, dropout only in training (and replayed by gradient checkpointing), removeLora.
import { Tensor, Generator, randn, copyInto, noGrad } from '@stellar/tensor';
import { Module, Linear, StellarForCausalLM, makeConfig, applyLora, matchesTarget, type LoraModel } from '../src';
import { maxDiff } from './util/fixture';

const config = makeConfig({ vocabSize: 32, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4,
  numKeyValueHeads: 2, tieWordEmbeddings: false, initializerRange: 0.2 });
const ids = Tensor.fromArray([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3], [2, 8], { dtype: 'int32' });   // (B, T)

/** B is zero after init, which hides every mistake in the update path: give it values. */
function randomizeB(lora: LoraModel, seed = 1): void {
  const g = new Generator(seed);
  noGrad(() => { for (const a of lora.adapters.values()) copyInto(a.loraB.weight.data, randn(a.loraB.weight.shape, { generator: g, std: 0.3 })); });
}

const snapshot = (m: Module) => new Map([...m.namedParameters()].map(([n, p]) => [n, p.data.toFloat64()]));

class Holder extends Module {
  readonly proj: Linear;
  constructor() { super(); this.proj = this.registerModule('proj', new Linear(5, 3, { bias: true, std: 0.5, generator: new Generator(3) })); }
}

test('adapters get PEFT names and init, every other parameter is frozen', () => {
  const model = new StellarForCausalLM(config, { seed: 0 });
  const before = model.forward(ids).logits;
  const lora = applyLora(model, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], seed: 7 });
  expect(lora.namedLoraParameters().map(([n]) => n)).toEqual([0, 1].flatMap((l) => ['q_proj', 'v_proj'].flatMap((p) =>
    [`model.layers.${l}.self_attn.${p}.lora_A.weight`, `model.layers.${l}.self_attn.${p}.lora_B.weight`])));
  const names = [...model.namedParameters()].map(([n]) => n);
  expect(names).toContain('model.layers.1.self_attn.v_proj.lora_B.weight');
  expect(names).toContain('model.layers.1.self_attn.v_proj.weight');   // the base keeps its HF name
  const a = lora.adapters.get('model.layers.0.self_attn.v_proj')!;
  expect(a.loraA.weight.shape).toEqual([4, 16]);   // (r, in)
  expect(a.loraB.weight.shape).toEqual([8, 4]);    // (out = kv heads * head dim, r)
  expect(a.scaling).toBe(2);
  const A = a.loraA.weight.data.toFloat64(), bound = 1 / Math.sqrt(16);
  expect(Math.max(...A.map(Math.abs))).toBeLessThanOrEqual(bound);
  expect(Math.max(...A.map(Math.abs))).toBeGreaterThan(0.8 * bound);   // uniform over the whole bound
  expect(a.loraB.weight.data.toFloat64().every((x) => x === 0)).toBe(true);
  for (const [n, p] of model.namedParameters()) expect([n, p.requiresGrad]).toEqual([n, n.includes('.lora_')]);
  expect(lora.numTrainableParameters()).toBe(2 * (4 * 16 + 16 * 4 + 4 * 16 + 8 * 4));
  expect(maxDiff(model.forward(ids).logits, before).abs).toBe(0);   // B = 0: the model is unchanged
  // the same seed draws the same A
  const again = applyLora(new StellarForCausalLM(config, { seed: 0 }), { r: 4, targetModules: ['q_proj', 'v_proj'], seed: 7 });
  expect(again.loraParameters()[0].data.toFloat64()).toEqual(lora.loraParameters()[0].data.toFloat64());
  model.dispose(); again.model.dispose();
});

test('target names match whole path components; a RegExp must match the whole path', () => {
  expect(matchesTarget('model.layers.0.self_attn.q_proj', ['q_proj'])).toBe(true);
  expect(matchesTarget('model.layers.0.self_attn.q_proj', ['proj'])).toBe(false);
  expect(matchesTarget('model.layers.0.self_attn.q_proj', ['self_attn.q_proj'])).toBe(true);
  expect(matchesTarget('model.layers.0.self_attn.q_proj', /q_proj/)).toBe(false);
  expect(matchesTarget('model.layers.0.self_attn.q_proj', /.*\.q_proj|x/)).toBe(true);
  const model = new StellarForCausalLM(config, { seed: 0 });
  const lora = applyLora(model, { r: 2, targetModules: /model\.layers\.1\.(self_attn\.o|mlp\.down)_proj/ });
  expect([...lora.adapters.keys()]).toEqual(['model.layers.1.self_attn.o_proj', 'model.layers.1.mlp.down_proj']);
  expect(() => applyLora(model, { r: 2, targetModules: ['o_proj'] })).toThrow('model.layers.1.self_attn.o_proj already has an adapter');
  lora.removeLora();
  expect(() => applyLora(model, { r: 2, targetModules: ['self_attn'] })).toThrow('target module model.layers.0.self_attn is a LlamaAttention; only Linear layers are supported');
  expect(() => applyLora(model, { r: 2, targetModules: ['nothing'] })).toThrow('match no module');
  expect(() => applyLora(model, { r: 0, targetModules: ['q_proj'] })).toThrow('r must be a positive integer');
  expect(() => applyLora(model, { r: 2, dropout: 1, targetModules: ['q_proj'] })).toThrow('dropout must be in [0, 1)');
  model.dispose();
});

test('forward is base(x) + scaling (x A^T) B^T against a float64 reference, also with useRslora', () => {
  for (const useRslora of [false, true]) {
    const h = new Holder();
    const lora = applyLora(h, { r: 2, alpha: 3, targetModules: ['proj'], useRslora });
    randomizeB(lora);
    const s = useRslora ? 3 / Math.sqrt(2) : 3 / 2;
    expect(lora.scaling).toBeCloseTo(s, 12);
    const x = randn([2, 3, 5], { generator: new Generator(9) });   // (B, T, in)
    const y = h.proj.forward(x).toFloat64();                        // (B, T, out)
    const X = x.toFloat64(), W = h.proj.weight.data.toFloat64(), b = h.proj.bias!.data.toFloat64();
    const a = lora.adapters.get('proj')!, A = a.loraA.weight.data.toFloat64(), Bm = a.loraB.weight.data.toFloat64();
    let err = 0, delta = 0;
    for (let row = 0; row < 6; row++) {
      const xa = [0, 1].map((k) => [0, 1, 2, 3, 4].reduce((acc, i) => acc + X[row * 5 + i] * A[k * 5 + i], 0));   // (r)
      for (let o = 0; o < 3; o++) {
        const base = b[o] + [0, 1, 2, 3, 4].reduce((acc, i) => acc + X[row * 5 + i] * W[o * 5 + i], 0);
        const upd = s * (xa[0] * Bm[o * 2] + xa[1] * Bm[o * 2 + 1]);
        err = Math.max(err, Math.abs(y[row * 3 + o] - (base + upd)));
        delta = Math.max(delta, Math.abs(upd));
      }
    }
    expect(err).toBeLessThan(1e-5);
    expect(delta).toBeGreaterThan(0.05);
    h.dispose(); lora.removeLora();
  }
});

test('after backward only the adapters have gradients', () => {
  const model = new StellarForCausalLM(config, { seed: 0 });
  const lora = applyLora(model, { r: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'] });
  randomizeB(lora);
  model.forward(ids, { labels: ids }).loss!.backward();
  const adapters = new Set(lora.loraParameters());
  for (const [n, p] of model.namedParameters()) {
    if (adapters.has(p)) expect([n, p.grad !== null && p.grad.toFloat64().some((v) => v !== 0)]).toEqual([n, true]);
    else expect([n, p.grad]).toEqual([n, null]);
  }
  model.dispose();
});

test('merge() gives the unmerged forward; unmerge() restores the base weights; removeLora() keeps what is merged', () => {
  const model = new StellarForCausalLM(config, { seed: 0 }).eval();
  const base = snapshot(model);
  const lora = applyLora(model, { r: 4, alpha: 16, targetModules: ['q_proj', 'v_proj', 'o_proj', 'gate_proj', 'lm_head'] });
  randomizeB(lora);
  const unmerged = model.forward(ids).logits;
  lora.merge();
  expect(lora.merged).toBe(true);
  const merged = model.forward(ids).logits;
  const d = maxDiff(merged, unmerged);
  expect(d.abs).toBeLessThan(2e-5);
  expect(d.scale).toBeGreaterThan(1);
  const w = 'model.layers.0.self_attn.q_proj.weight';
  const w0 = base.get(w)!, moved = model.stateDict().get(w)!.toFloat64().reduce((m, v, i) => Math.max(m, Math.abs(v - w0[i])), 0);
  expect(moved).toBeGreaterThan(0.05);   // the update really is in the weight now
  expect(() => lora.merge()).toThrow('already merged');
  lora.unmerge();
  const bad: string[] = [];
  for (const [n, p] of model.namedParameters()) {
    const ref = base.get(n);
    if (!ref) continue;
    const err = p.data.toFloat64().reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
    if (!(err < 1e-6)) bad.push(`${n}: ${err}`);
  }
  expect(bad).toEqual([]);
  expect(maxDiff(model.forward(ids).logits, unmerged).abs).toBeLessThan(2e-5);
  lora.merge();
  lora.removeLora();   // merge-and-unload
  expect([...model.namedParameters()].map(([n]) => n)).toEqual([...base.keys()]);
  expect(model.parameters().every((p) => p.requiresGrad)).toBe(true);
  expect(maxDiff(model.forward(ids).logits, unmerged).abs).toBeLessThan(2e-5);
  expect(() => lora.loraParameters()).toThrow('removed');
  model.dispose();
});

test('dropout acts on the adapter input in training only, and checkpointing replays its masks', () => {
  const make = (p: number) => {
    const m = new StellarForCausalLM(config, { seed: 0 });
    const l = applyLora(m, { r: 4, dropout: p, targetModules: ['q_proj', 'v_proj'], seed: 3 });
    randomizeB(l);
    return l;
  };
  const plain = make(0), dropped = make(0.5);
  plain.model.eval(); dropped.model.eval();
  expect(maxDiff(dropped.model.forward(ids).logits, plain.model.forward(ids).logits).abs).toBe(0);
  plain.model.train(); dropped.model.train();
  const ref = plain.model.forward(ids).logits;
  const t1 = dropped.model.forward(ids).logits, t2 = dropped.model.forward(ids).logits;
  expect(maxDiff(t1, ref).abs).toBeGreaterThan(1e-3);
  expect(maxDiff(t1, t2).abs).toBeGreaterThan(1e-3);   // a new mask each call
  plain.model.dispose();

  // same model, same generator state: with and without recomputation in backward the grads agree
  const grads = (ckpt: boolean) => {
    const l = make(0.5);
    l.model.train().gradientCheckpointingEnable(ckpt);
    l.model.forward(ids, { labels: ids }).loss!.backward();
    const g = l.loraParameters().map((p) => p.grad!.toFloat64());
    l.model.dispose();
    return g;
  };
  const a = grads(false), b = grads(true);
  let diff = 0;
  a.forEach((x, i) => x.forEach((v, j) => { diff = Math.max(diff, Math.abs(v - b[i][j])); }));
  expect(diff).toBeLessThan(1e-5);
  dropped.model.dispose();
});
