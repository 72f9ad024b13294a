// PPO end to end on a tiny random-init policy: a rule reward that likes one token raises the mean
// reward over iterations (shared value head and separate critic), the logged statistics are sane,
// and state()/restore() resumes a run exactly.
import { StellarForCausalLM, StellarForCausalLMWithValueHead, StellarForSequenceClassification, makeConfig } from '@stellar/nn';
import { PpoLoop, layoutRollout, scoreRollout, type PpoStats } from '../src';
import { Tensor, squeeze } from '@stellar/tensor';
import { toyPrompts } from './util/rl-toy';

const X = 7;
const cfg = makeConfig({ vocabSize: 16, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 4, maxPositionEmbeddings: 32 });
const fractionOfX = (_: unknown, _text: string, toks: number[]) => toks.filter((t) => t === X).length / Math.max(1, toks.length);

function makeLoop(shared: boolean, seed = 0, c = cfg) {
  const policy = new StellarForCausalLM(c, { seed: 1 });
  const reference = new StellarForCausalLM(cfg, { seed: 1 });
  const valueModel = shared ? new StellarForCausalLMWithValueHead(policy, { seed: 2 }) : new StellarForSequenceClassification(cfg, { seed: 3 });
  return new PpoLoop({
    policy, valueModel, reference, reward: fractionOfX, prompts: toyPrompts(64, 5),
    sampling: { maxNewTokens: 6, temperature: 1 }, batchSize: 16, miniBatchSize: 8, ppoEpochs: 2, lr: 3e-3,
    kl: { coef: 0.02, estimator: 'k3' }, seed,
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test.each([['shared value head', true], ['separate critic', false]] as const)('PPO with a rule reward raises the mean reward (%s)', (_name, shared) => {
  const loop = makeLoop(shared);
  const stats: PpoStats[] = [];
  for (let i = 0; i < 14; i++) stats.push(loop.run());
  const first = mean(stats.slice(0, 3).map((s) => s.reward)), last = mean(stats.slice(-3).map((s) => s.reward));
  expect(first).toBeLessThan(0.2);
  expect(last).toBeGreaterThan(first + 0.25);
  for (const s of stats) {
    for (const k of ['kl', 'entropy', 'clipFrac', 'approxKl', 'valueLoss', 'rolloutTokensPerSec', 'optimTokensPerSec'] as const) expect(Number.isFinite(s[k])).toBe(true);
    expect(s.updates).toBe(4);
  }
  expect(stats[0].kl).toBeCloseTo(0, 6);          // policy == reference before the first update
  expect(stats.at(-1)!.kl).toBeGreaterThan(0);     // it moved away since
  expect(stats.at(-1)!.entropy).toBeLessThan(stats[0].entropy);
});

test('an approx-KL target stops the updates early; the adaptive KL coefficient moves', () => {
  const policy = new StellarForCausalLM(cfg, { seed: 1 });
  const loop = new PpoLoop({
    policy, valueModel: new StellarForCausalLMWithValueHead(policy), reference: new StellarForCausalLM(cfg, { seed: 1 }), reward: fractionOfX,
    prompts: toyPrompts(16, 6), sampling: { maxNewTokens: 4 }, batchSize: 8, miniBatchSize: 2, ppoEpochs: 4, lr: 5e-2, targetKl: 1e-4,
    kl: { coef: 0.1, adaptive: { target: 0.01, horizon: 100 } },
  });
  const a = loop.run(), b = loop.run();
  expect(a.earlyStopped || b.earlyStopped).toBe(true);
  expect(Math.min(a.updates, b.updates)).toBeLessThan(16);
  expect(b.klCoef).not.toBe(a.klCoef);
});

test('state() / restore() resume a PPO run exactly, dropout masks included', () => {
  const withDropout = makeConfig({ ...cfg, hiddenDropout: 0.1 });
  const a = makeLoop(true, 3, withDropout);
  a.run(); a.run();
  const b = makeLoop(true, 3, withDropout);
  b.restore(a.state());
  expect(b.step).toBe(2);
  const ra = a.run(), rb = b.run();
  expect(rb.reward).toBe(ra.reward);
  expect(rb.policyLoss).toBe(ra.policyLoss);
  expect(rb.valueLoss).toBe(ra.valueLoss);
});

test('a reward model scores each right-padded rollout row at its last real token, as on the row alone', () => {
  const rm = new StellarForSequenceClassification(cfg, { seed: 9 });
  const prompts = [[1, 4, 5, 6], [1, 9], [1, 3, 3]], responses = [[7, 2], [8, 8, 8, 2], [5]];
  const got = scoreRollout(layoutRollout(prompts, responses), prompts.map((ids) => ({ ids })), rm, String);
  const alone = prompts.map((p, i) => { const ids = [...p, ...responses[i]]; return squeeze(rm.forward(Tensor.fromArray(ids, [1, ids.length], { dtype: 'int32' })).scores, -1).item(); });
  alone.forEach((v, i) => expect(Math.abs(got[i] - v)).toBeLessThan(1e-5));
  expect(new Set(Array.from(got)).size).toBe(3);
  // and drives a PPO iteration (the reward model is only read, under noGrad)
  const policy = new StellarForCausalLM(cfg, { seed: 1 });
  const before = rm.score.weight.data.toFloat64();
  const s = new PpoLoop({ policy, valueModel: new StellarForCausalLMWithValueHead(policy), reference: new StellarForCausalLM(cfg, { seed: 1 }), reward: rm,
    prompts: toyPrompts(8, 1), sampling: { maxNewTokens: 3 }, batchSize: 4, ppoEpochs: 1 }).run();
  expect(Number.isFinite(s.reward)).toBe(true);
  expect(rm.score.weight.data.toFloat64()).toEqual(before);
  expect(rm.score.weight.data.grad).toBeNull();
});
