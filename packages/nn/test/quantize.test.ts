// quantizeModel: every Linear runs through the int8 GEMM, logits of a briefly trained tiny model stay
// close to float32, exclusions, LoRA merged first, dequantizeModel restores float32 exactly, error paths.
import { Tensor, Generator, randn, copyInto, noGrad, sub, mul, tidy, argmax } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, applyLora, quantizeModel, dequantizeModel, isQuantized, generate, Linear } from '../src';
import { maxDiff as maxDiffOf } from './util/fixture';

const maxDiff = (a: Tensor, b: Tensor): number => maxDiffOf(a, b).abs;

const config = makeConfig({ vocabSize: 48, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4,
  numKeyValueHeads: 2, tieWordEmbeddings: false, initializerRange: 0.1 });
// a periodic sequence the model can learn in a few steps, so its logits are peaked like a trained model's
const seq = Array.from({ length: 2 * 24 }, (_, i) => (i * 7 + Math.floor(i / 3)) % 48);
const ids = Tensor.fromArray(seq, [2, 24], { dtype: 'int32' });   // (B, T)

function trainedModel(): StellarForCausalLM {
  const model = new StellarForCausalLM(config, { seed: 1 });
  const params = [...model.parameters()];
  for (let step = 0; step < 25; step++) {
    tidy(() => {
      const { loss } = model.forward(ids, { labels: ids });
      loss!.backward();
      noGrad(() => { for (const p of params) if (p.grad) copyInto(p.data, sub(p.data, mul(p.grad, 0.5))); });
      for (const p of params) p.data.zeroGrad();
    });
  }
  return model;
}

const logits = (m: StellarForCausalLM) => noGrad(() => m.forward(ids).logits);

test('int8 logits stay within 2% of the float32 logit range; greedy argmax agrees on >= 95% of positions', () => {
  const model = trainedModel();
  model.eval();
  const f = logits(model);
  const fv = f.toFloat64();
  const range = Math.max(...fv) - Math.min(...fv);
  expect(range).toBeGreaterThan(5);   // trained-ish: peaked, not the flat logits of an init
  const report = quantizeModel(model, { mode: 'int8' });
  expect(report.quantized.length).toBe(2 * 7 + 1);   // q k v o gate up down per layer + lm_head
  expect(report.int8Bytes).toBeLessThan(report.floatBytes / 3.5);
  const q = logits(model);
  const d = maxDiff(q, f);
  expect(d).toBeGreaterThan(0);            // the int8 path really ran
  expect(d).toBeLessThan(0.02 * range);   // measured: 0.057 over a range of 13.1 (0.44%)
  const a = argmax(f, -1).toFloat64(), b = argmax(q, -1).toFloat64();
  let same = 0;
  for (let i = 0; i < a.length; i++) same += a[i] === b[i] ? 1 : 0;
  expect(same / a.length).toBeGreaterThanOrEqual(0.95);
  // generate() runs on the int8 layers too (prefill M > 8 and decode M = 1 paths)
  const g = generate(model, [seq.slice(0, 12)], { maxNewTokens: 6 });
  expect(g.tokens[0].length).toBe(6);
  dequantizeModel(model);
  expect(isQuantized(model)).toBe(false);
  expect(maxDiff(logits(model), f)).toBe(0);   // the float32 weights were kept, not rebuilt
});

test('exclude by path and RegExp; errors for a second quantization, unknown modes, gradients, adapters', () => {
  const model = new StellarForCausalLM(config, { seed: 2 });
  const r = quantizeModel(model, { mode: 'int8', exclude: ['lm_head', /\.mlp\.down_proj$/] });
  expect(r.excluded).toEqual(['model.layers.0.mlp.down_proj', 'model.layers.1.mlp.down_proj', 'lm_head']);
  expect(model.lmHead!.int8).toBeNull();
  expect(() => quantizeModel(model, { mode: 'int8' })).toThrow(/already quantized/);
  model.train();
  expect(() => model.forward(ids, { labels: ids })).toThrow(/inference-only/);
  const l = [...model.namedModules()].find(([n]) => n === 'model.layers.0.self_attn.q_proj')![1] as Linear;
  expect(() => applyLora(model, { r: 2, targetModules: ['q_proj'] })).toThrow(/no adapter/);
  expect(l.int8).not.toBeNull();
  expect([l.int8!.q.dtype, l.int8!.q.shape]).toEqual(['int8', [l.outFeatures, l.inFeatures]]);
  // the report counts one byte per int8 value plus a float32 scale per row
  const want = r.quantized.reduce((s, p) => {
    const m = [...model.namedModules()].find(([n]) => n === p)![1] as Linear;
    return s + m.outFeatures * m.inFeatures + 4 * m.outFeatures;
  }, 0);
  expect(r.int8Bytes).toBe(want);
  dequantizeModel(model);
  expect(() => dequantizeModel(model)).toThrow(/no int8 layers/);
  expect(() => quantizeModel(model, { mode: 'int4' as 'int8' })).toThrow(/unsupported mode/);
});

test('LoRA is merged into the weight before quantizing', () => {
  const model = new StellarForCausalLM(config, { seed: 3 });
  model.eval();
  const lora = applyLora(model, { r: 4, alpha: 8, targetModules: ['q_proj', 'up_proj'], seed: 5 });
  const g = new Generator(9);
  noGrad(() => { for (const a of lora.adapters.values()) copyInto(a.loraB.weight.data, randn(a.loraB.weight.shape, { generator: g, std: 0.3 })); });
  const withAdapters = logits(model);
  quantizeModel(model, { mode: 'int8' });
  expect([...lora.adapters.values()].every((a) => a.merged)).toBe(true);
  const q = logits(model);
  const fv = withAdapters.toFloat64();
  expect(maxDiff(q, withAdapters)).toBeLessThan(0.02 * (Math.max(...fv) - Math.min(...fv)));
});
