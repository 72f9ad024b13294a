// What the ppo and grpo stages share before their loop starts: the tokenizer's stop and pad ids, the
// sampling settings from `rollout`, the prompt set, and the reward (the rule checker or a reward
// model from a reward stage, whose vocabulary must be the policy's).
import type { StellarForSequenceClassification } from '@stellar/nn';
import type { PromptDataset, PromptItem } from '@stellar/data';
import type { RuleReward, SamplingConfig } from '@stellar/train';
import type { Tokenizer } from '@stellar/tokenizer';
import type { RunConfig } from '../schema';
import { loadRewardModel } from './reward-model-io';
import { rolloutPrompts, ruleReward } from './rl-data';

export interface RolloutSetup {
  sampling: SamplingConfig;
  prompts: PromptDataset;
  reward: RuleReward<PromptItem> | StellarForSequenceClassification;
  rewardModel: StellarForSequenceClassification | null;
  decode: (ids: number[]) => string;
}

export function stopIds(tok: Tokenizer): { eos: number | undefined; pad: number } {
  const eos = tok.vocab.get('<|im_end|>') ?? (tok.eosToken ? tok.vocab.get(tok.eosToken) : undefined);
  const pad = tok.padToken ? tok.vocab.get(tok.padToken) ?? 0 : 0;
  return { eos, pad };
}

export async function rolloutSetup(cfg: RunConfig, tok: Tokenizer, vocabSize: number, say: (s: string) => void): Promise<RolloutSetup> {
  const r = cfg.rollout;
  const { eos, pad } = stopIds(tok);
  const { ds, tasks } = await rolloutPrompts(cfg, tok, say);
  let rewardModel: StellarForSequenceClassification | null = null;
  if (r.reward === 'model') {
    rewardModel = loadRewardModel(r.reward_model);
    if (rewardModel.config.vocabSize !== vocabSize) {
      rewardModel.dispose();
      throw new Error(`rollout.reward_model=${r.reward_model}: vocabulary ${rewardModel.config.vocabSize} differs from the policy's ${vocabSize} (train the reward model from the same tokenizer)`);
    }
  } else if (ds.report.withReference < ds.report.prompts) {
    throw new Error(`rollout.reward=rule: ${ds.report.prompts - ds.report.withReference} prompts have no reference answer (use rollout.reward=model or add "reference")`);
  }
  return {
    sampling: { maxNewTokens: r.max_new_tokens, temperature: r.temperature, topK: r.top_k, topP: r.top_p, eosTokenId: eos, padTokenId: pad },
    prompts: ds,
    reward: rewardModel ?? ruleReward(tasks),
    rewardModel,
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }).trim(),
  };
}
