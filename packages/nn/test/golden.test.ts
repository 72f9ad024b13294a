// StellarForCausalLM equals HF transformers' LlamaForCausalLM on the golden fixture: logits, loss,
// every parameter gradient by name, and the losses of 10 AdamW steps against torch.optim.AdamW.
import { Tensor, adamwStep, zerosLike, contiguous, tidy } from '@stellar/tensor';
import { StellarForCausalLM, fromHfConfig } from '../src';
import { loadGolden, maxDiff, withPrefix } from './util/fixture';
import { adamwLosses, gradientMismatches } from './util/golden-run';

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
  const { logits, loss } = model.forward(t('input_ids'), { labels: t('labels') });
  const dl = maxDiff(logits, t('logits'));
  expect(dl.abs).toBeLessThan(1e-5);
  expect(dl.scale).toBeGreaterThan(0.1);   // the check is not vacuous
  const l = loss!.item(), ref = t('loss').item();
  expect(Math.abs(l - ref) / ref).toBeLessThan(1e-6);
  loss!.backward();
  // every gradient by name within 1e-5 (x max(1, |ref|)); a reference gradient of all zeros is reported too
  const g = gradientMismatches(model, golden, 1e-5);
  expect(g.ours).toEqual(g.ref);
  expect(g.bad).toEqual([]);
  model.dispose();
});

test('10 AdamW steps follow torch.optim.AdamW', () => {
  const model = loadedModel();
  const ref = t('adamw_losses').toFloat64();
  const { steps } = golden.adamw;
  expect(ref.length).toBe(steps);
  adamwLosses(model, golden).forEach((l, i) => {
    const rel = Math.abs(l - ref[i]) / Math.abs(ref[i]);
    if (!(rel < 1e-4)) throw new Error(`step ${i + 1}: loss ${l} vs torch ${ref[i]} (rel ${rel})`);
  });
  expect(ref[steps - 1]).toBeLessThan(ref[0] - 0.5);   // the run actually trains
  model.dispose();
});
