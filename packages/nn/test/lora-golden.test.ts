// LoRA equals PEFT on the golden fixture (tools/fixtures/make_lora_golden.py): the adapter directory
// written by PeftModel.save_pretrained loads by name, and logits, loss, every LoRA gradient and the
// losses of 10 AdamW steps on the adapters alone match transformers + peft.
import path from 'node:path';
import { Tensor, adamwStep, zerosLike, contiguous, tidy } from '@stellar/tensor';
import { StellarForCausalLM, fromHfConfig, loadLoraAdapter, type LoraModel } from '../src';
import { FIXTURES, loadGolden, maxDiff, withPrefix } from './util/fixture';

const golden = loadGolden('lora_golden.safetensors');
const t = (n: string): Tensor => golden.tensors.get(n)!;

function loaded(): LoraModel<StellarForCausalLM> {
  const model = new StellarForCausalLM(fromHfConfig(golden.config));
  model.loadStateDict(withPrefix(golden.tensors, 'param'));
  return loadLoraAdapter(model, path.join(FIXTURES, 'lora_adapter'));
}

test('the PEFT adapter directory loads with the fixture settings and weights', () => {
  const lora = loaded();
  expect(lora.options).toMatchObject({ r: 4, alpha: 8, dropout: 0, useRslora: false });
  expect([...(lora.options.targetModules as string[])].sort()).toEqual(['q_proj', 'v_proj']);   // PEFT writes a set
  expect([...lora.adapters.keys()]).toEqual(['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj',
    'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
  expect(lora.scaling).toBe(2);
  const ref = withPrefix(golden.tensors, 'lora');
  const ours = lora.namedLoraParameters();
  expect(ours.map(([n]) => n).sort()).toEqual([...ref.keys()].sort());
  for (const [n, p] of ours) expect(maxDiff(p.data, ref.get(n)!).abs).toBe(0);
  lora.model.dispose();
});

test('logits, loss and every LoRA gradient match peft; base weights get no gradient', () => {
  const lora = loaded();
  const model = lora.model.train();
  const { logits, loss } = model.forward(t('input_ids'), { labels: t('labels') });
  const dl = maxDiff(logits, t('logits'));
  expect(dl.abs).toBeLessThan(1e-5);
  expect(dl.scale).toBeGreaterThan(0.1);
  const l = loss!.item(), ref = t('loss').item();
  expect(Math.abs(l - ref) / ref).toBeLessThan(1e-6);
  loss!.backward();
  const grads = withPrefix(golden.tensors, 'grad');
  const bad: string[] = [];
  for (const [name, p] of lora.namedLoraParameters()) {
    const d = maxDiff(p.grad!, grads.get(name)!);
    if (!(d.abs < 1e-5)) bad.push(`${name}: max abs diff ${d.abs} (max |ref| ${d.scale})`);
    expect(d.scale).toBeGreaterThan(1e-3);
  }
  expect(bad).toEqual([]);
  const adapters = new Set(lora.loraParameters());
  for (const [name, p] of model.namedParameters()) {
    if (!adapters.has(p)) expect([name, p.grad]).toEqual([name, null]);
  }
  model.dispose();
});

test('the logits differ from the base model, so the adapter is not a no-op', () => {
  const lora = loaded();
  const withAdapter = lora.model.forward(t('input_ids')).logits;
  lora.removeLora();
  const base = lora.model.forward(t('input_ids')).logits;
  expect(maxDiff(base, withAdapter).abs).toBeGreaterThan(0.05);
  lora.model.dispose();
});

test('10 AdamW steps on the adapters follow torch.optim.AdamW', () => {
  const lora = loaded();
  const model = lora.model.train();
  const { lr, betas, weight_decay: wd, eps, steps } = golden.adamw;
  const base = new Map([...model.namedParameters()].filter(([n]) => !n.includes('.lora_')).map(([n, p]) => [n, p.data.toFloat64()]));
  const params = lora.loraParameters().map((p) => p.data);
  const m = params.map((p) => zerosLike(p)), v = params.map((p) => zerosLike(p));
  const ref = t('adamw_losses').toFloat64();
  expect(ref.length).toBe(steps);
  const ids = t('input_ids'), labels = t('labels');
  for (let step = 1; step <= steps; step++) {
    const l = tidy(() => {
      model.zeroGrad();
      const { loss } = model.forward(ids, { labels });
      loss!.backward();
      const grads = params.map((p) => (p.grad!.isContiguous ? p.grad! : contiguous(p.grad!)));
      adamwStep(params, grads, m, v, { lr, beta1: betas[0], beta2: betas[1], eps, weightDecay: wd, step });
      return loss!.item();
    });
    const rel = Math.abs(l - ref[step - 1]) / Math.abs(ref[step - 1]);
    if (!(rel < 1e-4)) throw new Error(`step ${step}: loss ${l} vs torch ${ref[step - 1]} (rel ${rel})`);
  }
  expect(ref[steps - 1]).toBeLessThan(ref[0] - 0.5);   // the run actually trains
  for (const [n, p] of model.namedParameters()) {
    const before = base.get(n);
    if (before) expect(p.data.toFloat64()).toEqual(before);   // the frozen base never moved
  }
  [...m, ...v].forEach((x) => x.dispose());
  model.dispose();
});
