// ModelConfig: the one typed record describing a dense LLaMA-style model, with commented defaults
// (those of HF LlamaConfig), key-checked overrides, and conversion to and from HF `config.json`.

export interface ModelConfig {
  vocabSize: number;             // 32000  tokens in the vocabulary
  hiddenSize: number;            // 4096   model width C
  intermediateSize: number;      // 11008  SwiGLU hidden width F
  numHiddenLayers: number;       // 32     decoder layers
  numAttentionHeads: number;     // 32     query heads Hq (head dim = hiddenSize / Hq)
  numKeyValueHeads: number;      // = numAttentionHeads; fewer gives GQA, 1 gives MQA
  maxPositionEmbeddings: number; // 2048   longest sequence the model is meant for
  rmsNormEps: number;            // 1e-6   RMSNorm epsilon
  ropeTheta: number;             // 10000  RoPE base
  tieWordEmbeddings: boolean;    // false  lm_head shares model.embed_tokens.weight
  initializerRange: number;      // 0.02   std of the normal init of every matrix
  padTokenId: number | null;     // null   embedding row that starts at 0 and gets no gradient (HF padding_idx)
}

export const DEFAULT_CONFIG: Readonly<Omit<ModelConfig, 'numKeyValueHeads'>> = Object.freeze({
  vocabSize: 32000,
  hiddenSize: 4096,
  intermediateSize: 11008,
  numHiddenLayers: 32,
  numAttentionHeads: 32,
  maxPositionEmbeddings: 2048,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  tieWordEmbeddings: false,
  initializerRange: 0.02,
  padTokenId: null,
});

const KEYS: readonly (keyof ModelConfig)[] = [...Object.keys(DEFAULT_CONFIG) as (keyof ModelConfig)[], 'numKeyValueHeads'];

export class ConfigError extends Error {
  constructor(msg: string) { super(msg); this.name = 'ConfigError'; }
}

function checkInt(name: string, v: unknown, min = 1): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
}
function checkPos(name: string, v: unknown): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new ConfigError(`${name} must be a positive number, got ${JSON.stringify(v)}`);
}

/** Checks types and the relations between fields (heads divide the width, KV heads divide heads). */
export function validateConfig(c: ModelConfig): ModelConfig {
  for (const k of ['vocabSize', 'hiddenSize', 'intermediateSize', 'numHiddenLayers', 'numAttentionHeads', 'numKeyValueHeads', 'maxPositionEmbeddings'] as const) checkInt(k, c[k]);
  for (const k of ['rmsNormEps', 'ropeTheta', 'initializerRange'] as const) checkPos(k, c[k]);
  if (c.padTokenId !== null && !(Number.isInteger(c.padTokenId) && c.padTokenId >= 0 && c.padTokenId < c.vocabSize)) {
    throw new ConfigError(`padTokenId must be null or an integer in [0, vocabSize), got ${JSON.stringify(c.padTokenId)}`);
  }
  if (typeof c.tieWordEmbeddings !== 'boolean') throw new ConfigError(`tieWordEmbeddings must be a boolean, got ${JSON.stringify(c.tieWordEmbeddings)}`);
  if (c.hiddenSize % c.numAttentionHeads !== 0) throw new ConfigError(`hiddenSize ${c.hiddenSize} is not a multiple of numAttentionHeads ${c.numAttentionHeads}`);
  if ((c.hiddenSize / c.numAttentionHeads) % 2 !== 0) throw new ConfigError(`head dim ${c.hiddenSize / c.numAttentionHeads} must be even for RoPE`);
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0) throw new ConfigError(`numAttentionHeads ${c.numAttentionHeads} is not a multiple of numKeyValueHeads ${c.numKeyValueHeads}`);
  return c;
}

/** Defaults overridden by `overrides`; unknown keys and wrong types are rejected. */
export function makeConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  for (const k of Object.keys(overrides)) {
    if (!(KEYS as readonly string[]).includes(k)) throw new ConfigError(`unknown config key "${k}"; allowed: ${KEYS.join(', ')}`);
  }
  const heads = overrides.numAttentionHeads ?? DEFAULT_CONFIG.numAttentionHeads;
  return validateConfig({ ...DEFAULT_CONFIG, numKeyValueHeads: heads, ...overrides });
}

export const headDim = (c: ModelConfig): number => c.hiddenSize / c.numAttentionHeads;

// HF LlamaConfig key <-> ours
const HF_FIELDS: [string, keyof ModelConfig][] = [
  ['vocab_size', 'vocabSize'], ['hidden_size', 'hiddenSize'], ['intermediate_size', 'intermediateSize'],
  ['num_hidden_layers', 'numHiddenLayers'], ['num_attention_heads', 'numAttentionHeads'],
  ['num_key_value_heads', 'numKeyValueHeads'], ['max_position_embeddings', 'maxPositionEmbeddings'],
  ['rms_norm_eps', 'rmsNormEps'], ['rope_theta', 'ropeTheta'], ['tie_word_embeddings', 'tieWordEmbeddings'],
  ['initializer_range', 'initializerRange'], ['pad_token_id', 'padTokenId'],
];
// HF keys that say nothing about the math (bookkeeping, token ids, inference flags): accepted, ignored
const HF_IGNORED = ['architectures', 'transformers_version', 'torch_dtype', 'dtype', 'use_cache', 'bos_token_id',
  'eos_token_id', '_name_or_path', 'pretraining_tp'];
// HF keys accepted only with the value this model implements
const HF_FIXED: Record<string, unknown> = {
  hidden_act: 'silu', attention_bias: false, mlp_bias: false, attention_dropout: 0, rope_scaling: null,
};
const HF_ALLOWED = ['model_type', ...HF_FIELDS.map(([h]) => h), 'head_dim', 'rope_parameters', ...Object.keys(HF_FIXED), ...HF_IGNORED];

/** Reads an HF LLaMA `config.json` object. Unknown keys and unsupported values are rejected by name. */
export function fromHfConfig(json: Record<string, unknown>): ModelConfig {
  if (json.model_type !== 'llama') throw new ConfigError(`model_type must be "llama", got ${JSON.stringify(json.model_type)}`);
  const unknown = Object.keys(json).filter((k) => !HF_ALLOWED.includes(k));
  if (unknown.length) throw new ConfigError(`unknown config.json key(s) ${unknown.map((k) => `"${k}"`).join(', ')}; allowed: ${HF_ALLOWED.join(', ')}`);
  for (const [k, want] of Object.entries(HF_FIXED)) {
    if (k in json && json[k] !== want) throw new ConfigError(`config.json ${k} = ${JSON.stringify(json[k])} is not supported (only ${JSON.stringify(want)})`);
  }
  const o: Partial<ModelConfig> = {};
  for (const [h, ours] of HF_FIELDS) if (h in json && json[h] !== null) (o as Record<string, unknown>)[ours] = json[h];
  // transformers 5 nests the RoPE base in rope_parameters
  const rp = json.rope_parameters as Record<string, unknown> | undefined | null;
  if (rp != null) {
    const bad = Object.keys(rp).filter((k) => k !== 'rope_type' && k !== 'rope_theta');
    if ((rp.rope_type ?? 'default') !== 'default' || bad.length) throw new ConfigError(`rope_parameters ${JSON.stringify(rp)}: only {rope_type: "default", rope_theta} is supported`);
    if (rp.rope_theta !== undefined) {
      if (o.ropeTheta !== undefined && o.ropeTheta !== rp.rope_theta) throw new ConfigError(`rope_theta ${o.ropeTheta} and rope_parameters.rope_theta ${rp.rope_theta} disagree`);
      o.ropeTheta = rp.rope_theta as number;
    }
  }
  const c = makeConfig(o);
  if (json.head_dim != null && json.head_dim !== headDim(c)) throw new ConfigError(`head_dim ${json.head_dim} != hidden_size / num_attention_heads = ${headDim(c)} is not supported`);
  return c;
}

/** The HF LLaMA `config.json` object for this config (loads in transformers as LlamaForCausalLM). */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  validateConfig(c);
  const j: Record<string, unknown> = { architectures: ['LlamaForCausalLM'], model_type: 'llama' };
  for (const [h, ours] of HF_FIELDS) j[h] = c[ours];   // a null pad_token_id is written as null, as HF does
  Object.assign(j, HF_FIXED, { head_dim: headDim(c), torch_dtype: 'float32' });
  delete j.rope_scaling;
  return j;
}
