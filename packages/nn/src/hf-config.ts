// Conversion between ModelConfig and a Hugging Face `config.json`: model_type "llama" (dense),
// "mixtral" (MoE) — both load unchanged in transformers — and "stellar" for configs using
// Stellar-only fields, which are then listed under `stellar_features`.
import { CONFIG_KEYS, ConfigError, headDim, makeConfig, stellarOnlyFields, validateConfig, type ModelConfig, type RopeScaling } from './config';

type Json = Record<string, unknown>;

// HF key <-> ours, shared by every model_type
const COMMON: [string, keyof ModelConfig][] = [
  ['vocab_size', 'vocabSize'], ['hidden_size', 'hiddenSize'], ['intermediate_size', 'intermediateSize'],
  ['num_hidden_layers', 'numHiddenLayers'], ['num_attention_heads', 'numAttentionHeads'],
  ['num_key_value_heads', 'numKeyValueHeads'], ['max_position_embeddings', 'maxPositionEmbeddings'],
  ['rms_norm_eps', 'rmsNormEps'], ['rope_theta', 'ropeTheta'], ['tie_word_embeddings', 'tieWordEmbeddings'],
  ['initializer_range', 'initializerRange'], ['pad_token_id', 'padTokenId'],
];
const MOE: [string, keyof ModelConfig][] = [
  ['num_local_experts', 'numLocalExperts'], ['num_experts_per_tok', 'numExpertsPerTok'],
  ['router_aux_loss_coef', 'routerAuxLossCoef'], ['router_jitter_noise', 'routerJitterNoise'],
];
const snake = (k: string) => k.replace(/[A-Z]/g, (m) => '_' + m.toLowerCase());
/** model_type "stellar" spells every remaining field in snake_case. */
const STELLAR: [string, keyof ModelConfig][] = CONFIG_KEYS
  .filter((k) => k !== 'ropeScaling' && ![...COMMON, ...MOE].some(([, o]) => o === k))
  .map((k) => [snake(k), k]);

const FIELDS: Record<string, [string, keyof ModelConfig][]> = {
  llama: COMMON, mixtral: [...COMMON, ...MOE], stellar: [...COMMON, ...MOE, ...STELLAR],
};
const ARCH: Record<string, string> = { llama: 'LlamaForCausalLM', mixtral: 'MixtralForCausalLM', stellar: 'StellarForCausalLM' };

// keys that say nothing about the math (bookkeeping, token ids, inference flags): accepted, ignored
const IGNORED = ['architectures', 'transformers_version', 'torch_dtype', 'dtype', 'use_cache', 'bos_token_id',
  'eos_token_id', '_name_or_path', 'pretraining_tp', 'output_router_logits', 'stellar_features'];
// keys accepted only with the value this model implements
const FIXED: Record<string, Json> = {
  llama: { hidden_act: 'silu', attention_bias: false, mlp_bias: false, attention_dropout: 0 },
  mixtral: { hidden_act: 'silu', attention_dropout: 0, sliding_window: null },
  stellar: { hidden_act: 'silu', attention_bias: false, mlp_bias: false, attention_dropout: 0 },
};

function allowed(type: string): string[] {
  return ['model_type', ...FIELDS[type].map(([h]) => h), 'head_dim', 'rope_parameters', 'rope_scaling', ...Object.keys(FIXED[type]), ...IGNORED];
}

/** HF rope_type / legacy type -> ours; 'default' is no scaling. */
function readRope(json: Json, o: Partial<ModelConfig>, type: string): void {
  const legacy = json.rope_scaling as Json | null | undefined;
  const params = json.rope_parameters as Json | null | undefined;
  for (const [name, rp] of [['rope_scaling', legacy], ['rope_parameters', params]] as const) {
    if (rp == null) continue;
    if (typeof rp !== 'object') throw new ConfigError(`${name} must be an object, got ${JSON.stringify(rp)}`);
    const kind = (rp.rope_type ?? rp.type ?? 'default') as string;
    const keys = Object.keys(rp).filter((k) => !['rope_type', 'type', 'rope_theta', 'factor'].includes(k));
    const kinds = type === 'stellar' ? ['default', 'linear', 'dynamic', 'ntk'] : ['default', 'linear', 'dynamic'];
    if (!kinds.includes(kind) || keys.length) {
      throw new ConfigError(`${name} ${JSON.stringify(rp)}: supported are {rope_type: ${kinds.map((k) => `"${k}"`).join(' | ')}, factor, rope_theta}`);
    }
    if (rp.rope_theta !== undefined) {
      if (o.ropeTheta !== undefined && o.ropeTheta !== rp.rope_theta) throw new ConfigError(`rope_theta ${o.ropeTheta} and ${name}.rope_theta ${rp.rope_theta} disagree`);
      o.ropeTheta = rp.rope_theta as number;
    }
    if (kind !== 'default') {
      const s: RopeScaling = { type: kind as RopeScaling['type'], factor: rp.factor as number };
      if (o.ropeScaling && JSON.stringify(o.ropeScaling) !== JSON.stringify(s)) throw new ConfigError(`rope_scaling and rope_parameters disagree`);
      o.ropeScaling = s;
    }
  }
}

/**
 * Reads a `config.json` object of model_type "llama", "mixtral" or "stellar". Unknown keys and
 * unsupported values are rejected by name, with the allowed keys listed.
 */
export function fromHfConfig(json: Json): ModelConfig {
  const type = json.model_type as string;
  if (!(type in FIELDS)) throw new ConfigError(`model_type must be "llama", "mixtral" or "stellar", got ${JSON.stringify(json.model_type)}`);
  const ok = allowed(type);
  const unknown = Object.keys(json).filter((k) => !ok.includes(k));
  if (unknown.length) throw new ConfigError(`unknown config.json key(s) ${unknown.map((k) => `"${k}"`).join(', ')} for model_type "${type}"; allowed: ${ok.join(', ')}`);
  for (const [k, want] of Object.entries(FIXED[type])) {
    if (k in json && json[k] !== want && !(want === 0 && json[k] === 0.0)) throw new ConfigError(`config.json ${k} = ${JSON.stringify(json[k])} is not supported (only ${JSON.stringify(want)})`);
  }
  const o: Partial<ModelConfig> = {};
  for (const [h, ours] of FIELDS[type]) if (h in json && json[h] !== null) (o as Json)[ours] = json[h];
  // HF adds the load-balancing loss to the training loss only with output_router_logits
  if (type === 'mixtral' && json.output_router_logits === false) o.routerAuxLossCoef = 0;
  readRope(json, o, type);
  if (type === 'mixtral' && !(Number(o.numLocalExperts) > 0)) throw new ConfigError('a mixtral config needs num_local_experts > 0');
  const c = makeConfig(o);
  if (json.head_dim != null && json.head_dim !== headDim(c)) throw new ConfigError(`head_dim ${json.head_dim} != hidden_size / num_attention_heads = ${headDim(c)} is not supported`);
  return c;
}

/** "llama", "mixtral" or "stellar": what `toHfConfig` writes for this config. */
export function modelTypeOf(c: ModelConfig): 'llama' | 'mixtral' | 'stellar' {
  if (stellarOnlyFields(c).length) return 'stellar';
  return c.numLocalExperts > 0 ? 'mixtral' : 'llama';
}

/**
 * The `config.json` object for this config: loads in transformers as LlamaForCausalLM or
 * MixtralForCausalLM; a "stellar" config lists the fields that make it one in `stellar_features`.
 */
export function toHfConfig(c: ModelConfig): Json {
  validateConfig(c);
  const type = modelTypeOf(c);
  const j: Json = { architectures: [ARCH[type]], model_type: type };
  if (type === 'stellar') j.stellar_features = stellarOnlyFields(c).map(snake);
  for (const [h, ours] of FIELDS[type]) j[h] = c[ours];   // a null pad_token_id is written as null, as HF does
  Object.assign(j, FIXED[type], { head_dim: headDim(c), torch_dtype: 'float32' });
  if (c.ropeScaling) j.rope_scaling = { rope_type: c.ropeScaling.type, factor: c.ropeScaling.factor };
  if (type === 'mixtral') j.output_router_logits = c.routerAuxLossCoef > 0;   // HF adds the aux loss only then
  return j;
}

// transformers' strict config classes reject an integer where a float is declared (e.g. a JSON `0`
// for router_jitter_noise), so these keys are always written with a decimal point
const FLOAT_KEYS = ['rms_norm_eps', 'rope_theta', 'initializer_range', 'router_aux_loss_coef', 'router_jitter_noise', 'attention_dropout', 'factor'];

/** `config.json` text for this config: toHfConfig with float fields spelled as floats. */
export function hfConfigJson(c: ModelConfig, extra: Json = {}): string {
  const text = JSON.stringify({ ...toHfConfig(c), ...extra }, null, 2);
  return text.replace(new RegExp(`("(?:${FLOAT_KEYS.join('|')})": )(-?\\d+)(,?)$`, 'gm'), '$1$2.0$3') + '\n';
}
