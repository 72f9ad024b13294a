// Heads on the decoder trunk: a sequence-score model (reward model; HF LlamaForSequenceClassification
// names: model.* + score.weight, scored at each row's last real token) and a policy with a value head
// (PPO actor-critic sharing one trunk; TRL's names: v_head.summary.weight/bias).
import { Tensor, Generator, gather, reshape, squeeze, tidy } from '@stellar/tensor';
import { Module } from '../module';
import { Linear } from '../layers/linear';
import { validateConfig, type ModelConfig } from '../config';
import { LlamaModel, StellarForCausalLM, checkIds, type CausalLMOptions, type CausalLMOutput, type TrunkOptions } from './causal-lm';

/** Index of each row's last real token: from the attention mask, else the last non-pad id (HF), else T - 1. */
export function lastTokenIndex(ids: Tensor, mask: Tensor | undefined, padTokenId: number | null): Int32Array {
  const [B, T] = ids.shape;
  const out = new Int32Array(B).fill(T - 1);
  if (mask) {
    const m = mask.toFloat64(), S2 = mask.shape[1];
    for (let b = 0; b < B; b++) { let last = -1; for (let s = 0; s < S2; s++) if (m[b * S2 + s]) last = s; out[b] = Math.max(0, last - (S2 - T)); }
  } else if (padTokenId !== null) {
    const v = ids.toFloat64();
    for (let b = 0; b < B; b++) { let last = 0; for (let s = 0; s < T; s++) if (v[b * T + s] !== padTokenId) last = s; out[b] = last; }
  }
  return out;
}

export interface SequenceScoreOutput {
  scores: Tensor;        // (B, numLabels) at each row's last real token (the reward for numLabels 1)
  tokenScores: Tensor;   // (B, T, numLabels) at every position
}

export class StellarForSequenceClassification extends Module {
  readonly model: LlamaModel;
  readonly score: Linear;   // (numLabels, C), no bias, as in HF

  constructor(readonly config: ModelConfig, opts: { seed?: number; numLabels?: number } = {}) {
    super();
    validateConfig(config);
    const g = new Generator(opts.seed ?? 0);
    this.model = this.registerModule('model', new LlamaModel(config, g));
    this.score = this.registerModule('score', new Linear(config.hiddenSize, opts.numLabels ?? 1, { std: config.initializerRange, generator: g }));
  }

  forward(inputIds: Tensor, opts: TrunkOptions = {}): SequenceScoreOutput {
    checkIds('StellarForSequenceClassification', inputIds);
    const last = lastTokenIndex(inputIds, opts.attentionMask, this.config.padTokenId);
    return tidy(() => {
      const [B] = inputIds.shape;
      const tokenScores = this.score.forward(this.model.forward(inputIds, opts).hidden);   // (B, T, L)
      const L = tokenScores.shape[2];
      const idx = Tensor.fromArray(Int32Array.from({ length: B * L }, (_, i) => last[Math.floor(i / L)]), [B, 1, L], { dtype: 'int32' });
      const scores = reshape(gather(tokenScores, 1, idx), [B, L]);   // (B, L)
      return { scores, tokenScores };
    });
  }
}

export interface ValueHeadOutput extends CausalLMOutput {
  values: Tensor;   // (B, T) the critic's value estimate at every position
}

/** A policy and its critic on one trunk: `v_head.summary` maps each final hidden state to a value. */
export class StellarForCausalLMWithValueHead extends Module {
  readonly vHead: Module & { summary: Linear };

  constructor(readonly policy: StellarForCausalLM, opts: { seed?: number } = {}) {
    super();
    this.registerModule('pretrained_model', policy);
    const g = new Generator(opts.seed ?? 1);
    const C = policy.config.hiddenSize;
    class ValueHead extends Module {
      readonly summary: Linear;
      constructor() { super(); this.summary = this.registerModule('summary', new Linear(C, 1, { bias: true, std: policy.config.initializerRange, generator: g })); }
    }
    this.vHead = this.registerModule('v_head', new ValueHead());
  }

  forward(inputIds: Tensor, opts: CausalLMOptions = {}): ValueHeadOutput {
    return tidy(() => {
      const out = this.policy.forward(inputIds, { ...opts, returnHidden: true });
      const values = squeeze(this.vHead.summary.forward(out.hidden!), -1);   // (B, T)
      delete out.hidden;
      return { ...out, values };
    });
  }
}
