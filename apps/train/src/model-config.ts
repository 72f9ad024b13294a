// The run config's `model` group -> @stellar/nn's ModelConfig.
import { makeConfig, type ModelConfig } from '@stellar/nn';
import type { RunConfig } from './schema';

export function toModelConfig(m: RunConfig['model'], vocabSize: number, padTokenId: number | null): ModelConfig {
  return makeConfig({
    vocabSize: m.vocab_size || vocabSize,
    hiddenSize: m.dim,
    intermediateSize: m.ffn_dim,
    numHiddenLayers: m.n_layers,
    numAttentionHeads: m.n_heads,
    numKeyValueHeads: m.n_kv_heads || m.n_heads,
    maxPositionEmbeddings: m.max_seq_len,
    ropeTheta: m.rope_theta,
    rmsNormEps: m.norm_eps,
    tieWordEmbeddings: m.tie_embeddings,
    initializerRange: m.init_std,
    padTokenId,
    hiddenDropout: m.hidden_dropout,
    dropPath: m.drop_path,
    layerScaleInit: m.layer_scale_init > 0 ? m.layer_scale_init : null,
    parallelResidual: m.parallel_residual,
    attentionGate: m.attention_gate,
    numLocalExperts: m.num_experts,
    numExpertsPerTok: m.experts_per_tok,
  });
}
