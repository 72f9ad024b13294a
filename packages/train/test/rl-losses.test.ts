// Every RLHF loss and estimator of src/rl against test/fixtures/rl-golden.json (written by
// tools/fixtures/make_rl_golden.py from TRL 1.13 / torch float64): values and autograd gradients.
import fs from 'node:fs';
import path from 'node:path';
import { Tensor, add, mul, sum } from '@stellar/tensor';
import {
  AdaptiveKlController, bradleyTerryLoss, logSigmoid, dpoPairLoss, entropyFromLogits, explainedVariance, gae, groupAdvantages, grpoLoss,
  klHost, klPerToken, maskedMean, maskedVar, maskedWhiten, ppoPolicyLoss, ppoValueLoss, sequenceLogprobs, shiftedTargetMask, tokenLogprobs,
  type KlEstimator,
} from '../src';

/* eslint-disable @typescript-eslint/no-explicit-any */
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'rl-golden.json'), 'utf8'));
const C = golden.cases as Record<string, any>;

// float32 inputs rounded from float64: ~1e-7 relative per input, a few ulps after the reductions
const ATOL = 2e-6, RTOL = 2e-6;
function close(actual: ArrayLike<number> | number, expected: ArrayLike<number> | number, atol = ATOL, rtol = RTOL): void {
  const a = typeof actual === 'number' ? [actual] : Array.from(actual), e = typeof expected === 'number' ? [expected] : Array.from(expected);
  expect(a.length).toBe(e.length);
  let worst = 0, at = -1;
  a.forEach((v, i) => { const err = Math.abs(v - e[i]) - (atol + rtol * Math.abs(e[i])); if (!(err <= worst)) { worst = err; at = i; } });
  if (at >= 0) throw new Error(`mismatch at ${at}: got ${a[at]}, expected ${e[at]} (|diff| ${Math.abs(a[at] - e[at])})`);
}
const t = (x: number[], shape?: number[]) => Tensor.fromArray(Float32Array.from(x), shape ?? [x.length]);
const leaf = (x: number[], shape?: number[]) => t(x, shape).requiresGrad_();

test('format and version of the fixture', () => {
  expect(golden.format).toBe('stellar-rl-golden');
  expect(golden.version).toBe(1);
});

test.each(['bt_plain', 'bt_margin_center'])('Bradley-Terry reward loss (%s) and gradients', (name) => {
  const c = C[name], i = c.inputs;
  const rc = leaf(i.rChosen), rr = leaf(i.rRejected);
  const { loss, stats } = bradleyTerryLoss(rc, rr, { margin: i.margin ? t(i.margin) : undefined, centerCoef: i.centerCoef ?? undefined });
  close(loss.item(), c.loss);
  loss.backward();
  close(rc.grad!.toFloat64(), c.gradChosen);
  close(rr.grad!.toFloat64(), c.gradRejected);
  expect(stats.accuracy).toBeCloseTo(c.accuracy, 12);
  close(stats.margin, c.margin);
});

test.each(['dpo_sigmoid', 'dpo_sigmoid_cdpo', 'dpo_ipo'])('DPO loss (%s), implicit rewards, margin, accuracy and gradients', (name) => {
  const c = C[name], i = c.inputs;
  const pc = leaf(i.policyChosen), pr = leaf(i.policyRejected);
  const r = dpoPairLoss(pc, pr, t(i.refChosen), t(i.refRejected), { beta: i.beta, lossType: i.lossType, labelSmoothing: i.labelSmoothing, chosenTokens: i.chosenTokens, rejectedTokens: i.rejectedTokens });
  close(r.loss.item(), c.loss);
  r.loss.backward();
  close(pc.grad!.toFloat64(), c.gradChosen);
  close(pr.grad!.toFloat64(), c.gradRejected);
  // log-probs around -12 carry float32 rounding of ~5e-7 each before the difference
  close(r.chosenRewards, c.chosenRewards, 1e-6);
  close(r.rejectedRewards, c.rejectedRewards, 1e-6);
  close(r.stats.margin, c.margin, 1e-6);
  expect(r.stats.accuracy).toBe(c.accuracy);
});

test('per-token log-probs (temperature, -100 masked), sequence sum and mean, entropy, and the gradient of a mix of them', () => {
  const c = C.logprobs, i = c.inputs;
  const [B, T, V] = i.shape as number[];
  const logits = leaf(i.logits, [B, T, V]);
  const labelsHost = Int32Array.from(i.labels as number[]);
  const labels = Tensor.fromArray(labelsHost, [B, T], { dtype: 'int32' });
  const tok = tokenLogprobs(logits, labels, { temperature: i.temperature });          // (B, T-1)
  close(tok.toFloat64(), c.tokenLogprobs);
  const mask = Tensor.fromArray(shiftedTargetMask(labelsHost, B, T), [B, T - 1]);
  const s = sequenceLogprobs(tok, mask, 'sum'), m = sequenceLogprobs(tok, mask, 'mean');
  close(s.toFloat64(), c.seqSum);
  close(m.toFloat64(), c.seqMean);
  const ent = entropyFromLogits(logits, i.temperature);                                 // (B, T)
  close(ent.toFloat64(), c.entropy);
  const obj = add(add(sum(mul(s, t(i.wSum))), sum(mul(m, t(i.wMean)))), mul(sum(ent), i.wEntropy));
  close(obj.item(), c.objective, 1e-5);
  obj.backward();
  close(logits.grad!.toFloat64(), c.gradLogits);
});

test.each(['k1', 'k2', 'k3'] as KlEstimator[])('KL estimator %s per token, its gradient and the host version', (k) => {
  const c = C.kl, i = c.inputs;
  const lp = leaf(i.logp, [2, 5]);
  const kl = klPerToken(lp, t(i.refLogp, [2, 5]), k);
  close(kl.toFloat64(), c[k].value);
  sum(kl).backward();
  close(lp.grad!.toFloat64(), c[k].grad);
  close((i.logp as number[]).map((v: number, j: number) => klHost(v, i.refLogp[j], k)), c[k].value, 1e-12, 1e-12);
});

test('GAE, masked mean / variance / whitening and explained variance (TRL PPO)', () => {
  const c = C.gae, i = c.inputs;
  const [B, T] = i.shape as number[];
  const { advantages, returns } = gae(i.rewards, i.values, i.mask, B, T, i.gamma, i.lambda);
  close(advantages, c.advantages, 1e-12, 1e-12);
  close(returns, c.returns, 1e-12, 1e-12);
  close(maskedMean(advantages, i.mask), c.maskedMean, 1e-12, 1e-12);
  close(maskedVar(advantages, i.mask), c.maskedVar, 1e-12, 1e-12);
  close(maskedWhiten(advantages, i.mask), c.whitened, 1e-10, 1e-10);
  close(explainedVariance(i.values, returns, i.mask), c.explainedVariance, 1e-12, 1e-12);
});

test('PPO clipped policy loss, clip fraction, approx KL and gradient', () => {
  const c = C.ppo_policy, i = c.inputs, sh = i.shape as number[];
  const lp = leaf(i.logp, sh);
  const r = ppoPolicyLoss(lp, t(i.oldLogp, sh), t(i.advantages, sh), t(i.mask, sh), i.clip);
  close(r.loss.item(), c.loss);
  expect(r.clipFrac).toBeCloseTo(c.clipFrac, 12);
  expect(r.clipFrac).toBeGreaterThan(0);   // the fixture exercises both sides of the clip
  close(r.approxKl, c.approxKl, 1e-6, 1e-5);
  r.loss.backward();
  close(lp.grad!.toFloat64(), c.grad);
});

test('PPO clipped value loss, clip fraction and gradient', () => {
  const c = C.ppo_value, i = c.inputs, sh = i.shape as number[];
  const v = leaf(i.values, sh);
  const r = ppoValueLoss(v, t(i.oldValues, sh), t(i.returns, sh), t(i.mask, sh), i.clip);
  close(r.loss.item(), c.loss);
  expect(r.clipFrac).toBeCloseTo(c.clipFrac, 12);
  expect(r.clipFrac).toBeGreaterThan(0);
  r.loss.backward();
  close(v.grad!.toFloat64(), c.grad);
});

test('GRPO group advantages (scaled and not) and the clipped objective with k3 KL, per sequence and per token', () => {
  const c = C.grpo, i = c.inputs, sh = i.shape as number[];
  close(groupAdvantages(i.rewards, i.groupSize), c.advantagesScaled, 1e-9, 1e-9);
  close(groupAdvantages(i.rewards, i.groupSize, { scale: false }), c.advantagesPlain, 1e-12, 1e-12);
  for (const agg of ['sequence', 'token'] as const) {
    const lp = leaf(i.logp, sh);
    const r = grpoLoss(lp, t(i.oldLogp, sh), t(i.refLogp, sh), t(c.advantagesScaled), t(i.mask, sh), { epsilonLow: i.epsilonLow, epsilonHigh: i.epsilonHigh, beta: i.beta, aggregate: agg });
    close(r.loss.item(), c[agg].loss);
    expect(r.clipFrac).toBeCloseTo(c[agg].clipFrac, 12);
    close(r.kl, c[agg].kl, 1e-6, 1e-5);
    r.loss.backward();
    close(lp.grad!.toFloat64(), c[agg].grad);
  }
});

test('adaptive KL controller follows Ziegler et al. / TRL', () => {
  const c = C.adaptive_kl, i = c.inputs;
  const ctl = new AdaptiveKlController(i.init, i.target, i.horizon);
  const got = (i.kls as number[]).map((k, j) => { ctl.update(k, i.nSteps[j]); return ctl.value; });
  close(got, c.values, 1e-15, 1e-12);
  const again = new AdaptiveKlController(1, i.target, i.horizon);
  again.restore(ctl.state());
  expect(again.value).toBe(ctl.value);
});

test('logSigmoid is exact at 0 (where DPO starts) and finite far out', () => {
  const x = leaf([0, -200, 200, 3]);
  const y = logSigmoid(x);
  close(y.toFloat64(), [-Math.log(2), -200, 0, -Math.log1p(Math.exp(-3))]);
  sum(y).backward();
  close(x.grad!.toFloat64(), [0.5, 1, 0, 1 / (1 + Math.exp(3))]);
});
