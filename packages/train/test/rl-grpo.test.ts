// GRPO end to end on a tiny random-init policy: N samples per prompt, group-relative advantages of a
// rule reward that likes one token, the clipped objective with a k3 KL to the reference; the mean
// reward rises over iterations, a LoRA policy can use its own base as the reference, and a run resumes.
import { StellarForCausalLM, applyLora, makeConfig } from '@stellar/nn';
import { GrpoLoop, layoutRollout, rolloutLogprobs, type GrpoStats } from '../src';
import { toyPrompts } from './util/rl-toy';

const X = 7;
const cfg = makeConfig({ vocabSize: 16, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 4, maxPositionEmbeddings: 32 });
const fractionOfX = (_: unknown, _text: string, toks: number[]) => toks.filter((t) => t === X).length / Math.max(1, toks.length);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function makeLoop(seed = 0) {
  return new GrpoLoop({
    policy: new StellarForCausalLM(cfg, { seed: 1 }), reference: new StellarForCausalLM(cfg, { seed: 1 }), reward: fractionOfX,
    prompts: toyPrompts(32, 5), sampling: { maxNewTokens: 6 }, promptsPerIteration: 4, numGenerations: 4, miniBatchSize: 8, numIterations: 2,
    lr: 3e-3, beta: 0.02, seed,
  });
}

test('GRPO with a rule reward raises the mean reward', () => {
  const loop = makeLoop();
  const stats: GrpoStats[] = [];
  for (let i = 0; i < 14; i++) stats.push(loop.run());
  const first = mean(stats.slice(0, 3).map((s) => s.reward)), last = mean(stats.slice(-3).map((s) => s.reward));
  expect(first).toBeLessThan(0.2);
  expect(last).toBeGreaterThan(first + 0.25);
  expect(stats[0].kl).toBeLessThan(stats.at(-1)!.kl / 10);   // only the second minibatch of the first rollout has moved
  for (const s of stats) expect(s.updates).toBe(4);
});

test('a LoRA policy uses its adapters-off base as the GRPO reference', () => {
  const policy = new StellarForCausalLM(cfg, { seed: 1 });
  const base = new StellarForCausalLM(cfg, { seed: 1 });
  // lm_head too: with its 0.02 init and frozen, no hidden state can make one token's probability exceed ~0.15
  const lora = applyLora(policy, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'gate_proj', 'up_proj', 'down_proj', 'lm_head'] });
  const loop = new GrpoLoop({
    policy, referenceLora: lora, reward: fractionOfX, prompts: toyPrompts(32, 5), sampling: { maxNewTokens: 6 },
    promptsPerIteration: 4, numGenerations: 4, miniBatchSize: 8, numIterations: 2, lr: 5e-3, beta: 0.02,
  });
  const stats = Array.from({ length: 12 }, () => loop.run());
  expect(mean(stats.slice(-3).map((s) => s.reward))).toBeGreaterThan(mean(stats.slice(0, 3).map((s) => s.reward)) + 0.3);
  // the reference log-probs are the untouched base model's, while the adapted policy's differ
  const rb = layoutRollout([[1, 4, 5], [1, 9]], [[7, 7, 3], [6, 2]]);
  const ref = rolloutLogprobs(policy, rb, 1, lora), own = rolloutLogprobs(policy, rb), b = rolloutLogprobs(base, rb);
  expect(Array.from(ref)).toEqual(Array.from(b));
  expect(Math.max(...Array.from(own, (v, i) => Math.abs(v - b[i])))).toBeGreaterThan(1e-2);
});

test('state() / restore() resume a GRPO run exactly', () => {
  const a = makeLoop(2);
  a.run();
  const b = makeLoop(2);
  b.restore(a.state());
  const ra = a.run(), rb = b.run();
  expect(rb.reward).toBe(ra.reward);
  expect(rb.loss).toBe(ra.loss);
  expect(() => b.restore({ tensors: new Map(), meta: { kind: 'ppo' } })).toThrow(/state is for "ppo"/);
});
