// StellarForCausalLM with MoE layers equals transformers' MixtralForCausalLM on the golden fixture
// (tools/fixtures/make_mixtral_golden.py): logits, LM loss, HF's objective (LM + router_aux_loss_coef *
// load_balancing_loss_func pooled over layers), every parameter gradient by its on-disk name, the
// losses of 10 AdamW steps (the model's own `loss`, aux loss pooled over layers as HF does); and a
// directory written by save_pretrained loads as-is with its logits.
import path from 'node:path';
import { Tensor, loadSafetensors } from '@stellar/tensor';
import { StellarForCausalLM, MoeBlock, fromHfConfig, fromPretrained } from '../src';
import { expectAdamwFollows, expectForwardBackwardMatch } from './util/golden-run';
import { FIXTURES, loadGolden, maxDiff, withPrefix } from './util/fixture';

const golden = loadGolden('mixtral_golden.safetensors');
const t = (n: string): Tensor => golden.tensors.get(n)!;

function loadedModel(): StellarForCausalLM {
  const model = new StellarForCausalLM(fromHfConfig(golden.config));
  model.loadStateDict(withPrefix(golden.tensors, 'param'));   // strict: every on-disk HF name must match ours
  return model;
}

test('fixture config is the tiny 4-expert top-2 Mixtral', () => {
  expect(fromHfConfig(golden.config)).toMatchObject({ vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numKeyValueHeads: 2, numLocalExperts: 4, numExpertsPerTok: 2, routerAuxLossCoef: 0.02 });
});

test('logits, LM loss, HF objective and every gradient match transformers', () => {
  const model = loadedModel();
  for (const layer of model.model.layers) expect(layer.mlp).toBeInstanceOf(MoeBlock);
  const out = model.forward(t('input_ids'), { labels: t('labels') });
  const auxRef = t('aux_loss').item(), ref = t('loss').item(), coef = golden.config.router_aux_loss_coef as number;
  const lm = out.lmLoss!.item(), lmRef = ref - coef * auxRef;
  expect(Math.abs(lm - lmRef) / lmRef).toBeLessThan(1e-6);
  expect(Math.abs(out.auxLoss!.item() - auxRef) / auxRef).toBeLessThan(1e-6);   // pooled over layers, as HF
  expectForwardBackwardMatch(model, golden, out);   // logits, HF's objective and every gradient
  model.dispose();
});

test('10 AdamW steps follow torch.optim.AdamW', () => {
  const model = loadedModel();
  expectAdamwFollows(model, golden);
  model.dispose();
});

test('a Mixtral directory saved by transformers loads with identical logits', () => {
  const dir = path.join(FIXTURES, 'hf_mixtral_tiny');
  const model = fromPretrained(dir);
  expect(model.config).toMatchObject({ numLocalExperts: 4, numExpertsPerTok: 2 });
  const ref = loadSafetensors(path.join(dir, 'reference.safetensors')).tensors;
  const { logits } = model.eval().forward(ref.get('input_ids')!);
  const d = maxDiff(logits, ref.get('logits')!);
  expect(d.abs).toBeLessThan(1e-5);
  expect(d.scale).toBeGreaterThan(0.1);
  model.dispose();
});
