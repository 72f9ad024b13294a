// Pair batches, the reward-model and DPO losses in the Trainer: batch layout and resumable order,
// DPO raising the policy's log-prob margin on unseen pairs, a LoRA policy as its own reference, and
// a reward model learning its training pairs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StellarForCausalLM, StellarForSequenceClassification, applyLora, makeConfig, type Parameter } from '@stellar/nn';
import { AdamW, PairSource, Trainer, collatePairs, dpoLoss, precomputeReferenceLogps, rewardLoss, scorePairs, scoreRewardPairs, withAdaptersDisabled, type PreferencePair, type TrainLogger } from '../src';
import { toyPairs } from './util/rl-toy';

const quiet: TrainLogger = { step() {}, eval() {}, message() {}, close() {} };
const cfg = makeConfig({ vocabSize: 16, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 4, maxPositionEmbeddings: 32 });

async function train(model: StellarForCausalLM | StellarForSequenceClassification, lossFn: ReturnType<typeof dpoLoss>, data: PairSource, steps: number, lr: number, params: Iterable<[string, Parameter]> = model.namedParameters(), onMetrics?: (m: Record<string, number>) => void, evalPairs?: PreferencePair[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-rl-pairs-'));
  try {
    const evalData = evalPairs && (() => new PairSource(evalPairs, { batchPairs: 8, epochs: 1, shuffle: false }));
    return await new Trainer({ model, optimizer: new AdamW(params, { lr, weightDecay: 0 }), lossFn, data, evalData, runDir: dir, maxSteps: steps, peakLr: lr, handleSignals: false,
      logger: { ...quiet, step(s) { onMetrics?.(s.metrics); } } }).run();
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

const meanMargin = (s: { chosen: Float64Array; rejected: Float64Array }) => s.chosen.reduce((a, c, i) => a + c - s.rejected[i], 0) / s.chosen.length;
const accuracy = (s: { chosen: Float64Array; rejected: Float64Array }) => s.chosen.reduce((a, c, i) => a + (c > s.rejected[i] ? 1 : 0), 0) / s.chosen.length;

test('pair batches: chosen rows then rejected rows, right padded, references and margins carried; the order resumes exactly', () => {
  const pairs = toyPairs(5, 1);
  pairs[0].refChosen = -1; pairs[0].refRejected = -2;
  const b = collatePairs(pairs.slice(0, 2));
  expect(b.batchSize).toBe(4);
  expect(b.refChosen).toBeUndefined();   // only when every pair has them
  const T = b.seqLen;
  expect(Array.from(b.inputIds.subarray(0, pairs[0].chosen.ids.length))).toEqual(pairs[0].chosen.ids);
  expect(Array.from(b.inputIds.subarray(2 * T, 2 * T + pairs[0].rejected.ids.length))).toEqual(pairs[0].rejected.ids);
  expect(b.attentionMask![T - 1]).toBe(pairs[0].chosen.ids.length === T ? 1 : 0);
  expect(collatePairs([pairs[0]]).refChosen).toEqual(Float64Array.from([-1]));

  const a = new PairSource(pairs, { batchPairs: 2, seed: 3, epochs: 2 });
  const first = [a.next(), a.next()];
  const saved = a.state();
  const rest = [a.next(), a.next(), a.next(), a.next()];
  expect(a.next()).toBeNull();   // 2 epochs of 3 batches (2 + 2 + 1 pairs)
  const b2 = new PairSource(pairs, { batchPairs: 2, seed: 3, epochs: 2 });
  b2.restore(saved);
  expect(b2.next()!.inputIds).toEqual(rest[0]!.inputIds);
  expect(first[0]!.pairs + first[1]!.pairs + rest[0]!.pairs).toBe(5);
});

test('DPO raises the log-prob margin chosen - rejected and the accuracy on unseen pairs', async () => {
  const policy = new StellarForCausalLM(cfg, { seed: 1 });
  const reference = new StellarForCausalLM(cfg, { seed: 1 });
  const trainPairs = precomputeReferenceLogps(reference, toyPairs(32, 2));
  const heldOut = toyPairs(24, 99);
  const heldOutWithRef = precomputeReferenceLogps(reference, toyPairs(24, 99));
  const before = scorePairs(policy, heldOut);
  const logged: Record<string, number>[] = [];
  const r = await train(policy, dpoLoss({ beta: 0.1 }), new PairSource(trainPairs, { batchPairs: 8, seed: 0 }), 30, 5e-3, policy.namedParameters(), (m) => logged.push(m), heldOutWithRef);
  const after = scorePairs(policy, heldOut);
  expect(r.losses[0].loss).toBeCloseTo(Math.log(2), 4);   // policy == reference at the start
  expect(r.losses.at(-1)!.loss).toBeLessThan(0.4);
  expect(meanMargin(after)).toBeGreaterThan(meanMargin(before) + 5);
  expect(accuracy(after)).toBeGreaterThanOrEqual(0.9);
  expect(accuracy(before)).toBeLessThan(0.8);
  expect(logged[0]['rewards/margins']).toBeCloseTo(0, 6);
  expect(logged.at(-1)!['rewards/accuracies']).toBe(1);
  expect(logged.at(-1)!['rewards/margins']).toBeGreaterThan(1);
  expect(logged.at(-1)!['rewards/chosen']).toBeGreaterThan(logged.at(-1)!['rewards/rejected']);
  expect(r.evals.at(-1)!.loss).toBeLessThan(0.4);   // the Trainer's evaluation over held-out pair batches
});

test('IPO and label-smoothed DPO train too; a reference model can stand in for precomputed log-probs', async () => {
  for (const o of [{ lossType: 'ipo' as const, beta: 0.5 }, { beta: 0.1, labelSmoothing: 0.1 }]) {
    const policy = new StellarForCausalLM(cfg, { seed: 1 });
    const reference = new StellarForCausalLM(cfg, { seed: 1 });
    const heldOut = toyPairs(16, 98);
    const before = meanMargin(scorePairs(policy, heldOut));
    await train(policy, dpoLoss({ ...o, reference }), new PairSource(toyPairs(32, 2), { batchPairs: 8 }), 15, 5e-3);
    expect(meanMargin(scorePairs(policy, heldOut))).toBeGreaterThan(before + 2);
  }
  const policy = new StellarForCausalLM(cfg, { seed: 1 });
  await expect(train(policy, dpoLoss(), new PairSource(toyPairs(4, 2), { batchPairs: 2 }), 1, 1e-3)).rejects.toThrow(/no reference log-probs/);
});

test('a LoRA policy is its own reference: with the adapters off it scores exactly as before training', async () => {
  const policy = new StellarForCausalLM(cfg, { seed: 4 });
  const pairs = toyPairs(16, 5);
  const base = scorePairs(policy, pairs);
  const lora = applyLora(policy, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'up_proj', 'down_proj'] });
  withAdaptersDisabled(lora, () => precomputeReferenceLogps(policy, pairs));
  expect(Array.from(pairs, (p) => p.refChosen)).toEqual(Array.from(base.chosen));
  await train(policy, dpoLoss({ beta: 0.1 }), new PairSource(pairs, { batchPairs: 8 }), 10, 1e-2, lora.namedLoraParameters());
  const trained = scorePairs(policy, pairs);
  expect(meanMargin(trained)).toBeGreaterThan(meanMargin(base) + 1);
  const off = withAdaptersDisabled(lora, () => scorePairs(policy, pairs));
  expect(Array.from(off.chosen)).toEqual(Array.from(base.chosen));
  expect(lora.loraParameters().length).toBe(8);   // the adapters are attached again
  expect([...policy.namedParameters()].some(([n]) => n.endsWith('lora_A.weight'))).toBe(true);
});

test('reward model training raises pairwise accuracy on its training pairs; accuracy and margin are logged', async () => {
  const rm = new StellarForSequenceClassification(cfg, { seed: 3 });
  const pairs = toyPairs(32, 7);
  const scores = () => scoreRewardPairs(rm, pairs, { batchPairs: 5 });
  const before = accuracy(scores());
  const logged: Record<string, number>[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-rl-rm-'));
  await new Trainer({ model: rm, optimizer: new AdamW(rm.namedParameters(), { lr: 3e-3, weightDecay: 0 }), lossFn: rewardLoss({ centerCoef: 0.01 }),
    data: new PairSource(pairs, { batchPairs: 8 }), runDir: dir, maxSteps: 40, peakLr: 3e-3, handleSignals: false,
    logger: { ...quiet, step(s) { logged.push(s.metrics); } } }).run();
  fs.rmSync(dir, { recursive: true, force: true });
  const after = accuracy(scores());
  expect(scores().accuracy).toBe(after);
  // batching does not change a score: right padding is masked and the score is read at the last real token
  const one = scoreRewardPairs(rm, pairs.slice(0, 3), { batchPairs: 1 }), many = scoreRewardPairs(rm, pairs.slice(0, 3), { batchPairs: 3 });
  one.chosen.forEach((v, i) => expect(Math.abs(v - many.chosen[i])).toBeLessThan(1e-5));
  expect(before).toBeLessThan(0.8);
  expect(after).toBeGreaterThanOrEqual(0.95);
  expect(logged.at(-1)!.accuracy).toBeGreaterThan(logged[0].accuracy);
  expect(logged.at(-1)!.margin).toBeGreaterThan(1);
});
