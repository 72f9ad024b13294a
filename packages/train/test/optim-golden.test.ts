// Optimizers against PyTorch (fixture from tools/fixtures/make_optim_golden.py): 10 steps of a tiny
// LLaMA under AdamW (+ decay groups, clipping, warmup-cosine), Muon (+ AdamW for the rest) and SGD
// follow torch's losses within 1e-4 relative and end at torch's weights.
import path from 'node:path';
import { loadSafetensors, tidy, type Tensor } from '@stellar/tensor';
import { StellarForCausalLM, fromHfConfig } from '@stellar/nn';
import { AdamW, Muon, SGD, clipGradNorm, lrMultiplier, type Optimizer } from '../src';

const { tensors, metadata } = loadSafetensors(path.join(__dirname, 'fixtures', 'optim_golden.safetensors'));
if (metadata.format !== 'stellar-golden' || metadata.version !== '1') throw new Error('optim_golden: unexpected format');
const cases = JSON.parse(metadata.cases);
const steps = Number(metadata.steps);
const prefixed = (p: string) => new Map([...tensors].filter(([n]) => n.startsWith(p)).map(([n, t]) => [n.slice(p.length), t]));

function model(): StellarForCausalLM {
  const m = new StellarForCausalLM(fromHfConfig(JSON.parse(metadata.config)));
  m.loadStateDict(prefixed('param.'));
  return m;
}

function train(m: StellarForCausalLM, opt: Optimizer, each?: (step: number) => void): number[] {
  const ids = tensors.get('input_ids')!, labels = tensors.get('labels')!;
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    losses.push(tidy(() => {
      m.zeroGrad();
      const { loss } = m.forward(ids, { labels });
      loss!.backward();
      each?.(s);
      opt.step();
      return loss!.item();
    }));
  }
  return losses;
}

function expectFollows(name: string, ours: number[], m: StellarForCausalLM, lossTol: number, weightTol: number | null): void {
  const ref = tensors.get(`${name}.losses`)!.toFloat64();
  ours.forEach((l, i) => {
    const rel = Math.abs(l - ref[i]) / ref[i];
    if (!(rel < lossTol)) throw new Error(`${name} step ${i}: loss ${l} vs torch ${ref[i]} (rel ${rel})`);
  });
  expect(ref[steps - 1]).toBeLessThan(ref[0] - 1);   // the run trains
  if (weightTol === null) return;
  const finals = prefixed(`${name}.final.`);
  expect([...m.stateDict().keys()].sort()).toEqual([...finals.keys()].sort());
  const bad: string[] = [];
  for (const [n, t] of m.stateDict()) {
    const a = t.toFloat64(), b = (finals.get(n) as Tensor).toFloat64();
    const d = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
    if (!(d < weightTol)) bad.push(`${n}: ${d}`);
  }
  expect(bad).toEqual([]);
}

test('AdamW with decay groups, global-norm clipping and warmup + cosine follows torch', () => {
  const c = cases.adamw, m = model();
  const opt = new AdamW(m.namedParameters(), { lr: c.lr, beta1: c.betas[0], beta2: c.betas[1], eps: c.eps, weightDecay: c.weight_decay });
  expect(opt.decayed().every((n) => !n.includes('norm') && !n.includes('embed_tokens'))).toBe(true);
  const sched = { name: 'cosine' as const, totalSteps: c.schedule.total, warmupSteps: c.schedule.warmup, minLrRatio: c.schedule.min_lr_ratio };
  const losses = train(m, opt, (s) => { clipGradNorm(m.parameters(), c.clip); opt.lr = c.lr * lrMultiplier(s, sched); });
  expectFollows('adamw', losses, m, 1e-4, 2e-5);
  opt.dispose(); m.dispose();
});

test('Muon (float32 Newton-Schulz) + AdamW for embeddings, head and norms follows torch.optim.Muon', () => {
  const c = cases.muon, m = model();
  const opt = new Muon(m.namedParameters(), { lr: c.lr, weightDecay: c.weight_decay, momentum: c.momentum, nesterov: c.nesterov,
    adamw: { lr: c.adamw_lr, beta1: c.betas[0], beta2: c.betas[1], weightDecay: 0 } });
  expect(opt.muonParameters()).toContain('model.layers.0.self_attn.q_proj.weight');
  expect(opt.muonParameters().some((n) => n.includes('embed') || n.includes('lm_head') || n.includes('norm'))).toBe(false);
  expectFollows('muon', train(m, opt), m, 1e-4, 5e-5);
  opt.dispose(); m.dispose();
});

test('the same Muon stays within bf16 rounding of stock torch Muon (bf16 Newton-Schulz)', () => {
  const c = cases.muon_bf16, m = model();
  const opt = new Muon(m.namedParameters(), { lr: c.lr, weightDecay: c.weight_decay, momentum: c.momentum, nesterov: c.nesterov,
    adamw: { lr: c.adamw_lr, beta1: c.betas[0], beta2: c.betas[1], weightDecay: 0 } });
  expectFollows('muon_bf16', train(m, opt), m, 3e-3, null);
  opt.dispose(); m.dispose();
});

test('SGD with Nesterov momentum and L2 decay on matrices follows torch', () => {
  const c = cases.sgd, m = model();
  const opt = new SGD(m.namedParameters(), { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weight_decay });
  expectFollows('sgd', train(m, opt), m, 1e-4, 2e-5);
  opt.dispose(); m.dispose();
});
