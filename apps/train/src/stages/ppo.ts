// Stage "ppo": RLHF-PPO of the init model. Critic: a value head on the policy's trunk
// (ppo.critic=shared) or a separate model (the reward model's copy, else the init trunk with a fresh
// head); frozen reference = a second copy of the init model; scores from the rule checker on the
// built-in verifiable tasks or a reward model. Per-iteration reward, KL, entropy, clip fraction,
// value loss, explained variance and tokens/s go to the progress line, metrics.jsonl and TensorBoard.
import { StellarForCausalLMWithValueHead, type StellarForSequenceClassification } from '@stellar/nn';
import { PpoLoop, type PpoStats } from '@stellar/train';
import type { PromptItem } from '@stellar/data';
import type { Tokenizer } from '@stellar/tokenizer';
import { checkRlConfig } from '../rl/rl-config';
import { runRlLoop } from '../rl/rl-loop';
import { rolloutSetup } from '../rl/rollout-setup';
import { loadRewardModel, rewardModelFrom } from '../rl/reward-model-io';
import { initModel, openRun, saveFinal, stageTokenizer, type StageContext } from './common';
import type { StageResult } from './pretrain';

export interface RlStageResult extends StageResult { history: Record<string, number>[] }

export function ppoScalars(s: PpoStats, rows: number): { loss: number; tokens: number; metrics: Record<string, number> } {
  return {
    loss: s.policyLoss, tokens: Math.round(s.responseLength * rows),
    metrics: {
      reward: s.reward, kl: s.kl, kl_coef: s.klCoef, entropy: s.entropy, clip_frac: s.clipFrac, approx_kl: s.approxKl, value_loss: s.valueLoss,
      value_clip_frac: s.valueClipFrac, explained_variance: s.explainedVariance, response_length: s.responseLength, updates: s.updates,
      early_stopped: s.earlyStopped ? 1 : 0, rollout_tokens_per_s: s.rolloutTokensPerSec, optim_tokens_per_s: s.optimTokensPerSec,
    },
  };
}

export async function ppoStage(ctx: StageContext, opts: { init?: string; tokenizer?: Tokenizer } = {}): Promise<RlStageResult> {
  const { cfg } = ctx;
  const init = opts.init ?? cfg.init;
  if (!init) throw new Error('ppo: set init=<model directory> (e.g. an sft run\'s final/)');
  checkRlConfig(cfg, 'ppo', ctx.dist);
  const run = openRun(ctx, 'ppo');
  const tok = opts.tokenizer ?? stageTokenizer(cfg, init);
  const policy = initModel(init);
  const reference = cfg.ppo.kl_coef > 0 || cfg.ppo.kl_target > 0 ? initModel(init) : undefined;
  const setup = await rolloutSetup(cfg, tok, policy.config.vocabSize, ctx.say);
  let critic: StellarForSequenceClassification | null = null;
  if (cfg.ppo.critic === 'separate') critic = cfg.rollout.reward === 'model' ? loadRewardModel(cfg.rollout.reward_model) : rewardModelFrom(policy, cfg.seed + 1);
  const valueModel = critic ?? new StellarForCausalLMWithValueHead(policy, { seed: cfg.seed + 1 });
  const p = cfg.ppo, t = cfg.train;
  const loop = new PpoLoop<PromptItem>({
    policy, valueModel, reference, reward: setup.reward, decode: setup.decode, prompts: setup.prompts, sampling: setup.sampling,
    batchSize: t.batch_size, miniBatchSize: t.batch_size / p.minibatches, ppoEpochs: p.epochs, lr: t.lr,
    clipRange: p.clip_range, clipRangeValue: p.clip_range_value, vfCoef: p.vf_coef, gamma: p.gamma, lambda: p.lambda, whitenAdvantages: p.whiten,
    maxGradNorm: t.clip, targetKl: p.target_kl > 0 ? p.target_kl : undefined,
    kl: { estimator: p.kl_estimator, coef: p.kl_coef, adaptive: p.kl_target > 0 ? { target: p.kl_target, horizon: p.kl_horizon } : undefined },
    seed: cfg.seed,
  });
  ctx.say(`ppo: ${t.steps} iterations of ${t.batch_size} rollouts (${p.minibatches} minibatches x ${p.epochs} epochs), critic ${p.critic}, reward ${cfg.rollout.reward}`);
  try {
    const r = await runRlLoop({
      ctx, run, loop, lr: t.lr, scalars: (s) => ppoScalars(s, t.batch_size),
      line: (s) => `reward ${s.reward.toFixed(3)} kl ${s.kl.toFixed(4)} entropy ${s.entropy.toFixed(3)} clip ${s.clipFrac.toFixed(3)} vloss ${s.valueLoss.toFixed(4)} ev ${s.explainedVariance.toFixed(2)} | ${s.rolloutTokensPerSec.toFixed(0)} gen tok/s ${s.optimTokensPerSec.toFixed(0)} opt tok/s`,
    });
    const final = r.stoppedBy === 'signal' ? null : saveFinal(run, policy, tok);
    return { dir: run.dir, final, stoppedBy: r.stoppedBy, valLoss: null, history: r.history };
  } finally {
    loop.optimizer.dispose();
    policy.dispose(); reference?.dispose(); critic?.dispose(); setup.rewardModel?.dispose();
    if (!critic) (valueModel as StellarForCausalLMWithValueHead).vHead.dispose();
  }
}
