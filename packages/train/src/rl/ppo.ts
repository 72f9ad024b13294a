// RLHF-PPO (Ziegler et al. 2019; Ouyang et al. 2022; TRL's PPO trainer): each iteration samples
// prompts, rolls out responses with the KV-cache sampler, scores them, turns the score and a
// per-token KL penalty against a frozen reference into token rewards, estimates advantages with GAE
// over the critic's values, whitens them, and runs several epochs of clipped policy + value updates.
import { Tensor, add, mul, tidy } from '@stellar/tensor';
import type { LoraModel, Module, Parameter, StellarForCausalLM, StellarForCausalLMWithValueHead, StellarForSequenceClassification } from '@stellar/nn';
import { AdamW } from '../optim/adamw';
import { clipGradNorm } from '../optim/clip';
import type { Optimizer } from '../optim/optimizer';
import { explainedVariance, gae, maskedWhiten } from './advantages';
import { AdaptiveKlController, FixedKlController, klHost, type KlController, type KlEstimator } from './kl';
import { tokenLogprobs } from './logprobs';
import { applyState, captureState, type NamedModules, type RlLoopState } from './loop-state';
import { ppoPolicyLoss, ppoValueLoss } from './ppo-loss';
import {
  criticValues, meanEntropy, pickRows, rolloutLogprobs, rowTensors, sampleRollout, scoreRollout, shuffled, valuesOf,
  type PromptSource, type RolloutPrompt, type RuleReward, type SamplingConfig,
} from './rollout';

export interface PpoOptions<I extends RolloutPrompt = RolloutPrompt> {
  policy: StellarForCausalLM;
  /** The critic: a StellarForCausalLMWithValueHead around `policy` (shared trunk, one forward) or a separate model whose per-token scores are the values. */
  valueModel: StellarForCausalLMWithValueHead | StellarForSequenceClassification;
  /** Frozen reference for the KL penalty (kept in eval mode, run under noGrad) ... */
  reference?: StellarForCausalLM;
  /** ... or, for a LoRA policy, the policy itself with its adapters switched off (no second copy). */
  referenceLora?: LoraModel<Module>;
  /** A reward model (scored at the last real token, under noGrad) or a rule on the decoded response. */
  reward: RuleReward<I> | StellarForSequenceClassification;
  /** Token ids -> text for rule rewards (a tokenizer's decode; default: ids joined by spaces). */
  decode?: (ids: number[]) => string;
  prompts: PromptSource<I>;
  sampling: SamplingConfig;
  /** Prompts (= rollout rows) per iteration. */
  batchSize: number;
  /** Rows per optimizer step (default batchSize). */
  miniBatchSize?: number;
  ppoEpochs?: number;         // 4
  lr?: number;                // 1e-5 (AdamW, no weight decay) unless an optimizer is given
  optimizer?: Optimizer;
  clipRange?: number;         // 0.2
  clipRangeValue?: number;    // 0.2
  vfCoef?: number;            // 0.1 (TRL)
  gamma?: number;             // 1
  lambda?: number;            // 0.95
  whitenAdvantages?: boolean; // true
  maxGradNorm?: number;       // 1; 0 = off
  /** Stop the iteration's remaining updates once a minibatch's approx KL to the rollout policy exceeds this. */
  targetKl?: number;
  kl?: {
    estimator?: KlEstimator;  // 'k1'
    coef?: number;            // 0.05
    /** Adaptive coefficient (Ziegler et al.): steer the per-sequence KL towards target over horizon samples. */
    adaptive?: { target: number; horizon: number };
  };
  seed?: number;
  /** Called after each iteration with its statistics. */
  log?: (s: PpoStats) => void;
}

export interface PpoStats {
  iteration: number;
  /** Mean score of the rollouts (reward model or rule), before the KL penalty. */
  reward: number;
  /** Mean over sequences of the summed per-token KL estimate to the reference. */
  kl: number;
  klCoef: number;
  /** Mean entropy (nats) per response token of the policy during the updates. */
  entropy: number;
  clipFrac: number;
  approxKl: number;
  policyLoss: number;
  valueLoss: number;
  valueClipFrac: number;
  explainedVariance: number;
  responseLength: number;
  /** Generated tokens per second of the rollout (generate()). */
  rolloutTokensPerSec: number;
  /** Response tokens per second through the update forwards and backwards. */
  optimTokensPerSec: number;
  updates: number;
  earlyStopped: boolean;
}

export class PpoLoop<I extends RolloutPrompt = RolloutPrompt> {
  private iteration = 0;
  readonly optimizer: Optimizer;
  readonly klController: KlController;
  private readonly modules: NamedModules;
  private readonly shared: boolean;

  constructor(readonly o: PpoOptions<I>) {
    this.shared = 'vHead' in o.valueModel;
    if (this.shared && (o.valueModel as StellarForCausalLMWithValueHead).policy !== o.policy) throw new Error('PpoLoop: a StellarForCausalLMWithValueHead valueModel must wrap `policy` (shared trunk)');
    if (o.reference && o.referenceLora) throw new Error('PpoLoop: give reference or referenceLora, not both');
    if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1)) throw new Error(`PpoLoop: batchSize must be a positive integer, got ${o.batchSize}`);
    const coef = o.kl?.coef ?? 0.05;
    if (coef !== 0 && !o.reference && !o.referenceLora && !o.kl?.adaptive) throw new Error('PpoLoop: a KL penalty needs reference or referenceLora (or set kl.coef 0)');
    this.klController = o.kl?.adaptive ? new AdaptiveKlController(coef, o.kl.adaptive.target, o.kl.adaptive.horizon) : new FixedKlController(coef);
    this.modules = this.shared ? [['', o.valueModel]] : [['policy.', o.policy], ['critic.', o.valueModel]];
    const named: [string, Parameter][] = [];
    for (const [prefix, m] of this.modules) for (const [n, p] of m.namedParameters()) named.push([prefix + n, p]);
    this.optimizer = o.optimizer ?? new AdamW(named, { lr: o.lr ?? 1e-5, weightDecay: 0 });
    o.reference?.eval();
  }

  get step(): number { return this.iteration; }

  /** One rollout batch and its PPO updates. */
  run(): PpoStats {
    const o = this.o, temp = o.sampling.temperature ?? 1, B = o.batchSize;
    const seed = ((o.seed ?? 0) * 1000003 + this.iteration) >>> 0;
    const items = o.prompts.next(B);
    // ---- rollout: responses, scores, log-probs under policy and reference, values
    const { batch: rb, seconds: genSec, tokens: genTok } = sampleRollout(o.policy, items.map((it) => it.ids), o.sampling, seed);
    const scores = scoreRollout(rb, items, o.reward, o.decode ?? ((ids) => ids.join(' ')));
    const W = rb.seqLen - 1, mask = rb.mask;
    const oldLogp = rolloutLogprobs(o.policy, rb, temp);
    const refLogp = o.reference ? rolloutLogprobs(o.reference, rb, temp) : o.referenceLora ? rolloutLogprobs(o.policy, rb, temp, o.referenceLora) : oldLogp;
    const values = criticValues(o.valueModel, rb);
    // ---- token rewards: -coef * KL at every response token, plus the score at the last one
    const est = o.kl?.estimator ?? 'k1', coef = this.klController.value;
    const rewards = new Float64Array(B * W);
    let klSum = 0;
    for (let b = 0; b < B; b++) {
      let last = -1;
      for (let j = 0; j < W; j++) {
        const i = b * W + j;
        if (!mask[i]) { values[i] = 0; continue; }
        const k = klHost(oldLogp[i], refLogp[i], est);
        klSum += k;
        rewards[i] = -coef * k;
        last = i;
      }
      if (last >= 0) rewards[last] += scores[b];
    }
    const { advantages: rawAdv, returns } = gae(rewards, values, mask, B, W, o.gamma ?? 1, o.lambda ?? 0.95);
    const adv = (o.whitenAdvantages ?? true) ? maskedWhiten(rawAdv, mask) : rawAdv;
    const ev = explainedVariance(values, returns, mask);
    // ---- updates
    const mb = o.miniBatchSize ?? B, epochs = o.ppoEpochs ?? 4, clip = o.clipRange ?? 0.2, clipV = o.clipRangeValue ?? 0.2, vf = o.vfCoef ?? 0.1;
    const params = this.modules.flatMap(([, m]) => m.parameters()).filter((p) => p.data.requiresGrad);
    const acc = { clipFrac: 0, approxKl: 0, pl: 0, vl: 0, vclip: 0, ent: 0, n: 0, tokens: 0 };
    let earlyStopped = false;
    const t0 = performance.now();
    for (const [, m] of this.modules) m.train();
    outer: for (let e = 0; e < epochs; e++) {
      const order = shuffled(B, seed * 31 + e);
      for (let s = 0; s < B; s += mb) {
        const rows = order.slice(s, s + mb);
        const r = tidy(() => {
          const t = rowTensors(rb, rows);
          let logits: Tensor, v: Tensor;
          if (this.shared) { const out = valuesOf(o.valueModel, t); logits = out.logits!; v = out.values; }
          else { logits = o.policy.forward(t.ids, { attentionMask: t.attn }).logits; v = valuesOf(o.valueModel, t).values; }
          const logp = tokenLogprobs(logits, t.labels, { temperature: temp });                    // (R, W)
          const c = (a: ArrayLike<number>) => Tensor.fromArray(pickRows(a, W, rows), [rows.length, W]);
          const pl = ppoPolicyLoss(logp, c(oldLogp), c(adv), t.mask, clip);
          if (o.targetKl !== undefined && pl.approxKl > o.targetKl) return null;
          const vl = ppoValueLoss(v, c(values), c(returns), t.mask, clipV);
          for (const [, m] of this.modules) m.zeroGrad();
          add(pl.loss, mul(vl.loss, vf)).backward();
          if ((o.maxGradNorm ?? 1) > 0) clipGradNorm(params, o.maxGradNorm ?? 1);
          this.optimizer.step();
          return { pl: pl.loss.item(), vl: vl.loss.item(), clipFrac: pl.clipFrac, approxKl: pl.approxKl, vclip: vl.clipFrac, ent: meanEntropy(logits, t.mask, temp), tokens: sum01(t.mask) };
        });
        if (!r) { earlyStopped = true; break outer; }
        acc.pl += r.pl; acc.vl += r.vl; acc.clipFrac += r.clipFrac; acc.approxKl += r.approxKl; acc.vclip += r.vclip; acc.ent += r.ent; acc.tokens += r.tokens; acc.n++;
      }
    }
    const optSec = (performance.now() - t0) / 1000;
    for (const [, m] of this.modules) m.zeroGrad();
    const meanKl = klSum / B;
    this.klController.update(meanKl, B);
    this.iteration++;
    const n = Math.max(1, acc.n);
    const stats: PpoStats = {
      iteration: this.iteration, reward: scores.reduce((a, x) => a + x, 0) / B, kl: meanKl, klCoef: coef,
      entropy: acc.ent / n, clipFrac: acc.clipFrac / n, approxKl: acc.approxKl / n, policyLoss: acc.pl / n, valueLoss: acc.vl / n, valueClipFrac: acc.vclip / n,
      explainedVariance: ev, responseLength: genTok / B, rolloutTokensPerSec: genTok / Math.max(genSec, 1e-9), optimTokensPerSec: acc.tokens / Math.max(optSec, 1e-9),
      updates: acc.n, earlyStopped,
    };
    o.log?.(stats);
    return stats;
  }

  /** Weights, optimizer, prompt cursor, KL coefficient and iteration (the sampling seed derives from it). */
  state(): RlLoopState {
    return captureState(this.modules, this.optimizer, { kind: 'ppo', iteration: this.iteration, seed: this.o.seed ?? 0, prompts: this.o.prompts.state(), kl: this.klController.state() });
  }

  restore(s: RlLoopState): void {
    if (s.meta.kind !== 'ppo') throw new Error(`PpoLoop.restore: state is for ${JSON.stringify(s.meta.kind)}`);
    const meta = applyState(s, this.modules, this.optimizer);
    this.o.prompts.restore(meta.prompts);
    this.klController.restore(meta.kl);
    this.iteration = meta.iteration as number;
  }
}

function sum01(m: Tensor): number { let s = 0; for (const v of m.toFloat64()) s += v; return s; }
