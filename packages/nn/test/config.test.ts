// ModelConfig: defaults, rejected overrides, and the HF config.json adapter both ways.
import { makeConfig, fromHfConfig, toHfConfig, hfConfigJson, modelTypeOf, stellarOnlyFields, DEFAULT_CONFIG, ConfigError } from '../src';

test('defaults are HF LlamaConfig defaults; KV heads default to the query heads', () => {
  const c = makeConfig({ numAttentionHeads: 8, hiddenSize: 512 });
  expect(c).toMatchObject({ ...DEFAULT_CONFIG, numAttentionHeads: 8, hiddenSize: 512, numKeyValueHeads: 8 });
});

test('unknown keys, wrong types and inconsistent heads are rejected by name', () => {
  expect(() => makeConfig({ hidenSize: 8 } as never)).toThrow(/unknown config key "hidenSize"; allowed: vocabSize, hiddenSize/);
  expect(() => makeConfig({ vocabSize: 1.5 })).toThrow(/vocabSize must be an integer/);
  expect(() => makeConfig({ tieWordEmbeddings: 'yes' as never })).toThrow(/tieWordEmbeddings must be a boolean/);
  expect(() => makeConfig({ hiddenSize: 30, numAttentionHeads: 4 })).toThrow(/not a multiple of numAttentionHeads/);
  expect(() => makeConfig({ numAttentionHeads: 32, numKeyValueHeads: 5 })).toThrow(/not a multiple of numKeyValueHeads 5/);
  expect(() => makeConfig({ padTokenId: 40000 })).toThrow(/padTokenId/);
});

const hf = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 64, hidden_size: 32, intermediate_size: 48,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5,
  rope_parameters: { rope_theta: 500000.0, rope_type: 'default' }, tie_word_embeddings: true, initializer_range: 0.1,
  hidden_act: 'silu', attention_bias: false, mlp_bias: false, attention_dropout: 0.0, head_dim: 8, pad_token_id: 0,
  bos_token_id: 1, eos_token_id: 2, use_cache: true, transformers_version: '5.18.0', dtype: 'float32', pretraining_tp: 1,
};

test('fromHfConfig reads transformers 5 and 4 style config.json', () => {
  const c = fromHfConfig(hf);
  expect(c).toEqual({ ...DEFAULT_CONFIG, vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
    maxPositionEmbeddings: 64, rmsNormEps: 1e-5, ropeTheta: 500000, tieWordEmbeddings: true, initializerRange: 0.1, padTokenId: 0 });
  const { rope_parameters: _, ...v4 } = hf;
  expect(fromHfConfig({ ...v4, rope_theta: 1234, rope_scaling: null }).ropeTheta).toBe(1234);
  expect(fromHfConfig({ ...v4, num_key_value_heads: null }).numKeyValueHeads).toBe(4);   // absent means MHA
});

test('fromHfConfig rejects unknown keys (listing the allowed ones) and features this model lacks', () => {
  expect(() => fromHfConfig({ ...hf, sliding_window: 128 })).toThrow(/unknown config.json key\(s\) "sliding_window" for model_type "llama"; allowed: model_type, vocab_size/);
  expect(() => fromHfConfig({ ...hf, model_type: 'mistral' })).toThrow(/model_type must be "llama", "mixtral" or "stellar"/);
  expect(() => fromHfConfig({ ...hf, hidden_act: 'gelu' })).toThrow(/hidden_act = "gelu" is not supported/);
  expect(() => fromHfConfig({ ...hf, attention_bias: true })).toThrow(/attention_bias/);
  expect(() => fromHfConfig({ ...hf, head_dim: 16 })).toThrow(/head_dim 16/);
  expect(() => fromHfConfig({ ...hf, rope_parameters: { rope_type: 'llama3', rope_theta: 1, factor: 8 } })).toThrow(/rope_parameters/);
  expect(() => fromHfConfig({ ...hf, rope_theta: 10000 })).toThrow(/disagree/);
});

test('toHfConfig -> fromHfConfig is the identity', () => {
  for (const c of [fromHfConfig(hf), makeConfig({ hiddenSize: 64, numAttentionHeads: 4, numKeyValueHeads: 1 })]) {
    const j = toHfConfig(c);
    expect(j).toMatchObject({ model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_act: 'silu', head_dim: c.hiddenSize / c.numAttentionHeads });
    expect(fromHfConfig(JSON.parse(JSON.stringify(j)))).toEqual(c);
  }
});

test('rope scaling: HF linear/dynamic stay llama (both spellings read), static NTK makes a stellar config', () => {
  const lin = fromHfConfig({ ...hf, rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 500000 } });
  expect(lin.ropeScaling).toEqual({ type: 'linear', factor: 2 });
  const { rope_parameters: _, ...v4 } = hf;
  expect(fromHfConfig({ ...v4, rope_theta: 1e4, rope_scaling: { type: 'dynamic', factor: 4 } }).ropeScaling).toEqual({ type: 'dynamic', factor: 4 });
  expect(modelTypeOf(lin)).toBe('llama');
  expect(fromHfConfig(JSON.parse(JSON.stringify(toHfConfig(lin))))).toEqual(lin);
  const ntk = makeConfig({ hiddenSize: 32, numAttentionHeads: 4, ropeScaling: { type: 'ntk', factor: 2 } });
  expect(toHfConfig(ntk)).toMatchObject({ model_type: 'stellar', stellar_features: ['rope_scaling'] });
  expect(() => fromHfConfig({ ...hf, rope_parameters: { rope_type: 'ntk', factor: 2 } })).toThrow(/rope_parameters .*supported are/);
  expect(() => makeConfig({ ropeScaling: { type: 'yarn', factor: 2 } as never })).toThrow(/ropeScaling must be null or/);
});

test('Stellar-only fields save as model_type "stellar", named in stellar_features, and read back', () => {
  const c = makeConfig({ hiddenSize: 32, numAttentionHeads: 4, xposScaleBase: 512, attentionGate: true, layerScaleInit: 0.1, dropPath: 0.1 });
  expect(stellarOnlyFields(c)).toEqual(['xposScaleBase', 'attentionGate', 'layerScaleInit', 'dropPath']);
  const j = toHfConfig(c);
  expect(j).toMatchObject({ model_type: 'stellar', architectures: ['StellarForCausalLM'], xpos_scale_base: 512, attention_gate: true,
    stellar_features: ['xpos_scale_base', 'attention_gate', 'layer_scale_init', 'drop_path'] });
  expect(fromHfConfig(JSON.parse(JSON.stringify(j)))).toEqual(c);
  expect(() => fromHfConfig({ ...hf, xpos_scale_base: 512 })).toThrow(/unknown config.json key\(s\) "xpos_scale_base" for model_type "llama"/);
  expect(() => makeConfig({ deepNorm: true, parallelResidual: true })).toThrow(/cannot be combined/);
  expect(() => makeConfig({ dropPath: 1 })).toThrow(/dropPath must be a probability/);
});

test('MoE configs save as mixtral (HF keys) unless a Stellar-only MoE field is set', () => {
  const c = makeConfig({ hiddenSize: 32, numAttentionHeads: 4, numLocalExperts: 4, numExpertsPerTok: 2, routerAuxLossCoef: 0.02 });
  const j = toHfConfig(c);
  expect(j).toMatchObject({ model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 4, num_experts_per_tok: 2,
    router_aux_loss_coef: 0.02, output_router_logits: true, sliding_window: null });
  expect(fromHfConfig(JSON.parse(JSON.stringify(j)))).toEqual(c);
  expect(modelTypeOf({ ...c, sharedExpertIntermediateSize: 16 })).toBe('stellar');
  expect(() => fromHfConfig({ ...j, num_local_experts: 0 })).toThrow(/num_local_experts > 0/);
  expect(() => makeConfig({ numLocalExperts: 2, numExpertsPerTok: 3 })).toThrow(/exceeds numLocalExperts/);
});

test('config.json text spells float fields as floats (transformers rejects 0 for a float) and reads back', () => {
  const c = makeConfig({ hiddenSize: 32, numAttentionHeads: 4, numLocalExperts: 4, ropeTheta: 10000, routerJitterNoise: 0, ropeScaling: { type: 'linear', factor: 2 } });
  const text = hfConfigJson(c);
  expect(text).toMatch(/"router_jitter_noise": 0\.0,/);
  expect(text).toMatch(/"rope_theta": 10000\.0,/);
  expect(text).toMatch(/"factor": 2\.0\n/);
  expect(text).toMatch(/"num_local_experts": 4,/);
  expect(fromHfConfig(JSON.parse(text))).toEqual(c);
  // a Mixtral config without output_router_logits trains without the aux loss, as HF does
  expect(fromHfConfig({ ...JSON.parse(text), output_router_logits: false }).routerAuxLossCoef).toBe(0);
});
