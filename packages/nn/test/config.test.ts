// ModelConfig: defaults, rejected overrides, and the HF config.json adapter both ways.
import { makeConfig, fromHfConfig, toHfConfig, DEFAULT_CONFIG, ConfigError } from '../src';

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
  expect(c).toEqual({ vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
    maxPositionEmbeddings: 64, rmsNormEps: 1e-5, ropeTheta: 500000, tieWordEmbeddings: true, initializerRange: 0.1, padTokenId: 0 });
  const { rope_parameters: _, ...v4 } = hf;
  expect(fromHfConfig({ ...v4, rope_theta: 1234, rope_scaling: null }).ropeTheta).toBe(1234);
  expect(fromHfConfig({ ...v4, num_key_value_heads: null }).numKeyValueHeads).toBe(4);   // absent means MHA
});

test('fromHfConfig rejects unknown keys (listing the allowed ones) and features this model lacks', () => {
  expect(() => fromHfConfig({ ...hf, sliding_window: 128 })).toThrow(/unknown config.json key\(s\) "sliding_window"; allowed: model_type, vocab_size/);
  expect(() => fromHfConfig({ ...hf, model_type: 'mistral' })).toThrow(/model_type must be "llama"/);
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
