// Checks across keys of the RLHF groups that the schema's per-key formats cannot express; each error
// names the key it is about. Also refuses mpirun: the RLHF stages run in one process.
import { ConfigError } from '@stellar/config';
import type { DistributedContext } from '@stellar/train';
import type { RunConfig } from '../schema';

export function checkRlConfig(cfg: RunConfig, stage: 'reward' | 'dpo' | 'ppo' | 'grpo', dist?: DistributedContext): void {
  if (dist && dist.worldSize > 1) throw new Error(`${stage}: the RLHF stages run in one process (not under mpirun with ${dist.worldSize} ranks)`);
  const t = cfg.train;
  if (stage === 'dpo' && cfg.dpo.label_smoothing >= 0.5) throw new ConfigError(`dpo.label_smoothing: must be < 0.5 (got ${cfg.dpo.label_smoothing})`);
  if (stage === 'ppo' || stage === 'grpo') {
    const r = cfg.rollout;
    if (r.top_p > 1) throw new ConfigError(`rollout.top_p: must be in (0, 1] (got ${r.top_p})`);
    if (r.reward === 'model' && !r.reward_model) throw new ConfigError('rollout.reward_model: set it to a reward stage\'s final/ directory when rollout.reward=model');
    if (t.grad_accum !== 1) throw new ConfigError(`train.grad_accum: ppo and grpo take one optimizer step per minibatch (use ${stage}.minibatches); got ${t.grad_accum}`);
  }
  if (stage === 'ppo') {
    const p = cfg.ppo;
    for (const k of ['gamma', 'lambda'] as const) if (p[k] > 1) throw new ConfigError(`ppo.${k}: must be in [0, 1] (got ${p[k]})`);
    if (t.batch_size % p.minibatches !== 0) throw new ConfigError(`ppo.minibatches: ${p.minibatches} does not divide train.batch_size ${t.batch_size}`);
  }
  if (stage === 'grpo') {
    const g = cfg.grpo;
    if (g.num_generations < 2) throw new ConfigError(`grpo.num_generations: must be >= 2 for a group-relative advantage (got ${g.num_generations})`);
    if ((t.batch_size * g.num_generations) % g.minibatches !== 0) throw new ConfigError(`grpo.minibatches: ${g.minibatches} does not divide train.batch_size * grpo.num_generations = ${t.batch_size * g.num_generations}`);
    if (g.epsilon_high > 0 && g.epsilon_high < g.epsilon_low) throw new ConfigError(`grpo.epsilon_high: must be 0 (= epsilon_low) or >= grpo.epsilon_low (got ${g.epsilon_high} < ${g.epsilon_low})`);
  }
}
