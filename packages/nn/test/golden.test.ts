// StellarForCausalLM equals HF transformers' LlamaForCausalLM on the golden fixture: logits, loss,
// every parameter gradient by name, and the losses of 10 AdamW steps against torch.optim.AdamW.
import type { Tensor } from '@stellar/tensor';
import { StellarForCausalLM, fromHfConfig } from '../src';
import { loadGolden, withPrefix } from './util/fixture';
import { expectAdamwFollows, expectForwardBackwardMatch } from './util/golden-run';

const golden = loadGolden('llama_golden.safetensors');
const t = (n: string): Tensor => golden.tensors.get(n)!;

function loadedModel(): StellarForCausalLM {
  const model = new StellarForCausalLM(fromHfConfig(golden.config));
  model.loadStateDict(withPrefix(golden.tensors, 'param'));   // strict: every HF name must match ours
  return model;
}

test('fixture config is the tiny tied GQA model', () => {
  const c = fromHfConfig(golden.config);
  expect(c).toMatchObject({ vocabSize: 64, hiddenSize: 32, numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true, ropeTheta: 500000, rmsNormEps: 1e-5, padTokenId: 0 });
});

test('logits, loss and every gradient match transformers', () => {
  const model = loadedModel();
  expectForwardBackwardMatch(model, golden, model.forward(t('input_ids'), { labels: t('labels') }));
  model.dispose();
});

test('10 AdamW steps follow torch.optim.AdamW', () => {
  const model = loadedModel();
  expectAdamwFollows(model, golden);
  model.dispose();
});
