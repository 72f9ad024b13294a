// Stage "grpo": GRPO of the init model: N sampled answers per prompt scored by the rule checker (or a
// reward model), advantages relative to each prompt's group, the clipped objective, and an optional
// k3 KL to a frozen copy of the init model (grpo.beta > 0). Logs reward, its within-group spread,
// KL, entropy, clip fraction and tokens/s per iteration; checkpoints and resumes like ppo.
import { GrpoLoop, type GrpoStats } from '@stellar/train';
import type { PromptItem } from '@stellar/data';
import type { Tokenizer } from '@stellar/tokenizer';
import { checkRlConfig } from '../rl/rl-config';
import { runRlLoop } from '../rl/rl-loop';
import { rolloutSetup } from '../rl/rollout-setup';
import { initModel, openRun, saveFinal, stageTokenizer, type StageContext } from './common';
import type { RlStageResult } from './ppo';

export function grpoScalars(s: GrpoStats, rows: number): { loss: number; tokens: number; metrics: Record<string, number> } {
  return {
    loss: s.loss, tokens: Math.round(s.responseLength * rows),
    metrics: {
      reward: s.reward, reward_std: s.rewardStd, zero_std_frac: s.zeroStdFrac, kl: s.kl, entropy: s.entropy, clip_frac: s.clipFrac,
      response_length: s.responseLength, updates: s.updates, rollout_tokens_per_s: s.rolloutTokensPerSec, optim_tokens_per_s: s.optimTokensPerSec,
    },
  };
}

export async function grpoStage(ctx: StageContext, opts: { init?: string; tokenizer?: Tokenizer } = {}): Promise<RlStageResult> {
  const { cfg } = ctx;
  const init = opts.init ?? cfg.init;
  if (!init) throw new Error('grpo: set init=<model directory> (e.g. an sft run\'s final/)');
  checkRlConfig(cfg, 'grpo', ctx.dist);
  const run = openRun(ctx, 'grpo');
  const tok = opts.tokenizer ?? stageTokenizer(cfg, init);
  const policy = initModel(init);
  const g = cfg.grpo, t = cfg.train;
  const reference = g.beta > 0 ? initModel(init) : undefined;
  const setup = await rolloutSetup(cfg, tok, policy.config.vocabSize, ctx.say);
  const rows = t.batch_size * g.num_generations;
  const loop = new GrpoLoop<PromptItem>({
    policy, reference, reward: setup.reward, decode: setup.decode, prompts: setup.prompts, sampling: setup.sampling,
    promptsPerIteration: t.batch_size, numGenerations: g.num_generations, miniBatchSize: rows / g.minibatches, numIterations: g.iterations,
    lr: t.lr, epsilonLow: g.epsilon_low, epsilonHigh: g.epsilon_high > 0 ? g.epsilon_high : g.epsilon_low, beta: g.beta,
    scaleRewards: g.scale_rewards, aggregate: g.aggregate, maxGradNorm: t.clip, seed: cfg.seed,
  });
  ctx.say(`grpo: ${t.steps} iterations of ${t.batch_size} prompts x ${g.num_generations} samples (${g.minibatches} minibatches x ${g.iterations} passes), reward ${cfg.rollout.reward}, beta ${g.beta}`);
  try {
    const r = await runRlLoop({
      ctx, run, loop, lr: t.lr, scalars: (s) => grpoScalars(s, rows),
      line: (s) => `reward ${s.reward.toFixed(3)} (std ${s.rewardStd.toFixed(3)}, ${(100 * s.zeroStdFrac).toFixed(0)}% flat groups) kl ${s.kl.toFixed(4)} entropy ${s.entropy.toFixed(3)} clip ${s.clipFrac.toFixed(3)} | ${s.rolloutTokensPerSec.toFixed(0)} gen tok/s ${s.optimTokensPerSec.toFixed(0)} opt tok/s`,
    });
    const final = r.stoppedBy === 'signal' ? null : saveFinal(run, policy, tok);
    return { dir: run.dir, final, stoppedBy: r.stoppedBy, valLoss: null, history: r.history };
  } finally {
    loop.optimizer.dispose();
    policy.dispose(); reference?.dispose(); setup.rewardModel?.dispose();
  }
}
