// RLHF building blocks: preference and policy-gradient losses, KL estimators and controllers,
// advantages, reward-model and DPO losses for the Trainer, and the PPO and GRPO loops.
export * from './logprobs';
export * from './preference-loss';
export * from './kl';
export * from './advantages';
export * from './ppo-loss';
export * from './pairs';
export * from './reference';
export * from './pair-losses';
// rollout.ts also holds helpers private to the loops (row picking, shuffling): export the public part
export { layoutRollout, sampleRollout, scoreRollout, rolloutLogprobs, criticValues, type RolloutBatch, type RolloutPrompt, type PromptSource, type RuleReward, type SamplingConfig } from './rollout';
export * from './loop-state';
export * from './ppo';
export * from './grpo';
