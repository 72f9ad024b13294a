// GRPO (Shao et al. 2024, DeepSeekMath; TRL's GRPOTrainer): no critic. Each iteration samples N
// responses per prompt, scores them (typically a verifiable rule), takes each response's advantage
// relative to its group, and runs the clipped objective over minibatches, with an optional k3 KL
// to a frozen reference in the loss.
import { Tensor, tidy } from '@stellar/tensor';
import type { LoraModel, Module, StellarForCausalLM, StellarForSequenceClassification } from '@stellar/nn';
import { AdamW } from '../optim/adamw';
import { clipGradNorm } from '../optim/clip';
import type { Optimizer } from '../optim/optimizer';
import { groupAdvantages } from './advantages';
import { tokenLogprobs } from './logprobs';
import { applyState, captureState, type NamedModules, type RlLoopState } from './loop-state';
import { grpoLoss } from './ppo-loss';
import { meanEntropy, pickRows, rolloutLogprobs, rowTensors, sampleRollout, scoreRollout, shuffled, type PromptSource, type RolloutPrompt, type RuleReward, type SamplingConfig } from './rollout';

export interface GrpoOptions<I extends RolloutPrompt = RolloutPrompt> {
  policy: StellarForCausalLM;
  /** Frozen reference for the KL term (needed when beta > 0) ... */
  reference?: StellarForCausalLM;
  /** ... or a LoRA policy's own base (adapters off). */
  referenceLora?: LoraModel<Module>;
  reward: RuleReward<I> | StellarForSequenceClassification;
  decode?: (ids: number[]) => string;
  prompts: PromptSource<I>;
  sampling: SamplingConfig;
  /** Prompts per iteration; the rollout has promptsPerIteration * numGenerations rows. */
  promptsPerIteration: number;
  numGenerations: number;      // N (>= 2 for a non-zero advantage)
  /** Rows per optimizer step (default: all rows). */
  miniBatchSize?: number;
  /** Passes over each rollout (TRL's num_iterations, mu; default 1). */
  numIterations?: number;
  lr?: number;                 // 1e-6... default 1e-5 (AdamW, no weight decay) unless an optimizer is given
  optimizer?: Optimizer;
  epsilonLow?: number;         // 0.2
  epsilonHigh?: number;        // = epsilonLow
  /** KL coefficient (default 0.04, the DeepSeekMath paper's; TRL's default is 0). */
  beta?: number;
  /** Divide by the group's std (default true); false is Dr. GRPO's unscaled advantage. */
  scaleRewards?: boolean;
  aggregate?: 'sequence' | 'token';
  maxGradNorm?: number;        // 1; 0 = off
  seed?: number;
  log?: (s: GrpoStats) => void;
}

export interface GrpoStats {
  iteration: number;
  reward: number;
  /** Mean over groups of the reward's std within the group (0 = nothing to learn from that group). */
  rewardStd: number;
  /** Fraction of groups whose rewards are all equal. */
  zeroStdFrac: number;
  kl: number;
  entropy: number;
  clipFrac: number;
  loss: number;
  responseLength: number;
  rolloutTokensPerSec: number;
  optimTokensPerSec: number;
  updates: number;
}

export class GrpoLoop<I extends RolloutPrompt = RolloutPrompt> {
  private iteration = 0;
  readonly optimizer: Optimizer;
  private readonly modules: NamedModules;

  constructor(readonly o: GrpoOptions<I>) {
    if (!(Number.isInteger(o.numGenerations) && o.numGenerations >= 2)) throw new Error(`GrpoLoop: numGenerations must be an integer >= 2, got ${o.numGenerations}`);
    if (!(Number.isInteger(o.promptsPerIteration) && o.promptsPerIteration >= 1)) throw new Error(`GrpoLoop: promptsPerIteration must be a positive integer, got ${o.promptsPerIteration}`);
    if ((o.beta ?? 0.04) !== 0 && !o.reference && !o.referenceLora) throw new Error('GrpoLoop: beta > 0 needs reference or referenceLora (or set beta 0)');
    this.modules = [['', o.policy]];
    this.optimizer = o.optimizer ?? new AdamW(o.policy.namedParameters(), { lr: o.lr ?? 1e-5, weightDecay: 0 });
    o.reference?.eval();
  }

  get step(): number { return this.iteration; }

  run(): GrpoStats {
    const o = this.o, temp = o.sampling.temperature ?? 1, N = o.numGenerations, beta = o.beta ?? 0.04;
    const seed = ((o.seed ?? 0) * 1000003 + this.iteration) >>> 0;
    const prompts = o.prompts.next(o.promptsPerIteration);
    const items = prompts.flatMap((p) => Array.from({ length: N }, () => p));   // groups of N consecutive rows
    const B = items.length;
    const { batch: rb, seconds: genSec, tokens: genTok } = sampleRollout(o.policy, items.map((it) => it.ids), o.sampling, seed);
    const scores = scoreRollout(rb, items, o.reward, o.decode ?? ((ids) => ids.join(' ')));
    const adv = groupAdvantages(scores, N, { scale: o.scaleRewards ?? true });
    const W = rb.seqLen - 1;
    const oldLogp = rolloutLogprobs(o.policy, rb, temp);
    const refLogp = beta === 0 ? null : o.reference ? rolloutLogprobs(o.reference, rb, temp) : rolloutLogprobs(o.policy, rb, temp, o.referenceLora);
    let stdSum = 0, zero = 0;
    for (let g = 0; g < B; g += N) {
      const grp = Array.from(scores.subarray(g, g + N)), m = grp.reduce((a, x) => a + x, 0) / N;
      const sd = Math.sqrt(grp.reduce((a, x) => a + (x - m) ** 2, 0) / (N - 1));
      stdSum += sd; if (sd === 0) zero++;
    }
    const mb = o.miniBatchSize ?? B, params = o.policy.parameters().filter((p) => p.data.requiresGrad);
    const acc = { loss: 0, clip: 0, kl: 0, ent: 0, n: 0, tokens: 0 };
    const t0 = performance.now();
    o.policy.train();
    for (let e = 0; e < (o.numIterations ?? 1); e++) {
      const order = shuffled(B, seed * 31 + e);
      for (let s = 0; s < B; s += mb) {
        const rows = order.slice(s, s + mb);
        const r = tidy(() => {
          const t = rowTensors(rb, rows);
          const logits = o.policy.forward(t.ids, { attentionMask: t.attn }).logits;              // (R, T, V)
          const logp = tokenLogprobs(logits, t.labels, { temperature: temp });                   // (R, W)
          const c = (a: ArrayLike<number>) => Tensor.fromArray(pickRows(a, W, rows), [rows.length, W]);
          const a = Tensor.fromArray(Float32Array.from(rows, (i) => adv[i]), [rows.length]);
          const l = grpoLoss(logp, c(oldLogp), refLogp ? c(refLogp) : null, a, t.mask, { epsilonLow: o.epsilonLow, epsilonHigh: o.epsilonHigh, beta, aggregate: o.aggregate });
          o.policy.zeroGrad();
          l.loss.backward();
          if ((o.maxGradNorm ?? 1) > 0) clipGradNorm(params, o.maxGradNorm ?? 1);
          this.optimizer.step();
          let tok = 0;
          for (const v of t.mask.toFloat64()) tok += v;
          return { loss: l.loss.item(), clip: l.clipFrac, kl: l.kl, ent: meanEntropy(logits, t.mask, temp), tokens: tok };
        });
        acc.loss += r.loss; acc.clip += r.clip; acc.kl += r.kl; acc.ent += r.ent; acc.tokens += r.tokens; acc.n++;
      }
    }
    const optSec = (performance.now() - t0) / 1000;
    o.policy.zeroGrad();
    this.iteration++;
    const n = Math.max(1, acc.n), G = B / N;
    const stats: GrpoStats = {
      iteration: this.iteration, reward: scores.reduce((a, x) => a + x, 0) / B, rewardStd: stdSum / G, zeroStdFrac: zero / G,
      kl: acc.kl / n, entropy: acc.ent / n, clipFrac: acc.clip / n, loss: acc.loss / n, responseLength: genTok / B,
      rolloutTokensPerSec: genTok / Math.max(genSec, 1e-9), optimTokensPerSec: acc.tokens / Math.max(optSec, 1e-9), updates: acc.n,
    };
    o.log?.(stats);
    return stats;
  }

  state(): RlLoopState {
    return captureState(this.modules, this.optimizer, { kind: 'grpo', iteration: this.iteration, seed: this.o.seed ?? 0, prompts: this.o.prompts.state() });
  }

  restore(s: RlLoopState): void {
    if (s.meta.kind !== 'grpo') throw new Error(`GrpoLoop.restore: state is for ${JSON.stringify(s.meta.kind)}`);
    const meta = applyState(s, this.modules, this.optimizer);
    this.o.prompts.restore(meta.prompts);
    this.iteration = meta.iteration as number;
  }
}
