// ModelConfig: the one typed record describing a Stellar model (dense LLaMA, its Stellar-only variants
// and Mixtral-style MoE), with commented defaults (HF LlamaConfig's), key-checked overrides and validation.

export interface RopeScaling {
  /**
   * 'linear': positions divided by factor (HF). 'dynamic': HF dynamic NTK, the base grows with the
   * sequence once it exceeds maxPositionEmbeddings. 'ntk': static NTK-aware base theta * factor^(D/(D-2)).
   */
  type: 'linear' | 'dynamic' | 'ntk';
  factor: number;
}

export interface ModelConfig {
  vocabSize: number;             // 32000  tokens in the vocabulary
  hiddenSize: number;            // 4096   model width C
  intermediateSize: number;      // 11008  SwiGLU hidden width F (per expert for MoE)
  numHiddenLayers: number;       // 32     decoder layers N
  numAttentionHeads: number;     // 32     query heads Hq (head dim = hiddenSize / Hq)
  numKeyValueHeads: number;      // = numAttentionHeads; fewer gives GQA, 1 gives MQA
  maxPositionEmbeddings: number; // 2048   longest sequence the model is trained for
  rmsNormEps: number;            // 1e-6   RMSNorm epsilon
  ropeTheta: number;             // 10000  RoPE base
  ropeScaling: RopeScaling | null;  // null  longer contexts than trained (see RopeScaling)
  tieWordEmbeddings: boolean;    // false  lm_head shares model.embed_tokens.weight
  initializerRange: number;      // 0.02   std of the normal init of every matrix
  padTokenId: number | null;     // null   embedding row that starts at 0 and gets no gradient (HF padding_idx)
  // --- Stellar-only variants (a config using any of them saves as model_type "stellar") ---
  xposScaleBase: number | null;  // null   XPos: rotary pair i of q scaled by zeta_i^(pos/base), of k divided
  attentionGate: boolean;        // false  attention output * sigmoid(self_attn.gate_proj(x)) before o_proj
  parallelResidual: boolean;     // false  x + attn(ln(x)) + mlp(ln(x)), one norm per layer
  deepNorm: boolean;             // false  post-norm ln(alpha x + f(x)), alpha = (2N)^1/4, beta-scaled init
  layerScaleInit: number | null; // null   learnable per-channel scale on each branch, initialised to this
  dropPath: number;              // 0      stochastic depth: layer i drops a branch per sample with p * i/(N-1)
  hiddenDropout: number;         // 0      dropout on each branch output before the residual add
  // --- Mixture of experts (numLocalExperts > 0; Mixtral-compatible unless a Stellar-only MoE field is set) ---
  numLocalExperts: number;       // 0      experts per layer; 0 = dense SwiGLU MLP
  numExpertsPerTok: number;      // 2      top-k experts per token
  routerAuxLossCoef: number;     // 0.001  weight of the load-balancing loss added to the LM loss
  routerJitterNoise: number;     // 0      training only: router input * uniform(1 - j, 1 + j) (HF Mixtral)
  routerZLossCoef: number;       // 0      Stellar: weight of the router z-loss
  routerNoiseStd: number;        // 0      Stellar: training-only Gaussian noise on router logits (noisy top-k)
  moeCapacityFactor: number;     // 0      Stellar: > 0 caps each expert at factor * N * k / E tokens
  sharedExpertIntermediateSize: number;  // 0  Stellar: width of an always-on shared expert (0 = none)
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
  ropeScaling: null,
  tieWordEmbeddings: false,
  initializerRange: 0.02,
  padTokenId: null,
  xposScaleBase: null,
  attentionGate: false,
  parallelResidual: false,
  deepNorm: false,
  layerScaleInit: null,
  dropPath: 0,
  hiddenDropout: 0,
  numLocalExperts: 0,
  numExpertsPerTok: 2,
  routerAuxLossCoef: 0.001,
  routerJitterNoise: 0,
  routerZLossCoef: 0,
  routerNoiseStd: 0,
  moeCapacityFactor: 0,
  sharedExpertIntermediateSize: 0,
});

export const CONFIG_KEYS: readonly (keyof ModelConfig)[] = [...Object.keys(DEFAULT_CONFIG) as (keyof ModelConfig)[], 'numKeyValueHeads'];

export class ConfigError extends Error {
  constructor(msg: string) { super(msg); this.name = 'ConfigError'; }
}

function checkInt(name: string, v: unknown, min = 1): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
}
function checkPos(name: string, v: unknown): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new ConfigError(`${name} must be a positive number, got ${JSON.stringify(v)}`);
}
function checkNonNeg(name: string, v: unknown): void {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new ConfigError(`${name} must be a number >= 0, got ${JSON.stringify(v)}`);
}
function checkProb(name: string, v: unknown): void {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ConfigError(`${name} must be a probability in [0, 1), got ${JSON.stringify(v)}`);
}
function checkBool(name: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new ConfigError(`${name} must be a boolean, got ${JSON.stringify(v)}`);
}

/** Checks types and the relations between fields (heads divide the width, KV heads divide heads, ...). */
export function validateConfig(c: ModelConfig): ModelConfig {
  for (const k of ['vocabSize', 'hiddenSize', 'intermediateSize', 'numHiddenLayers', 'numAttentionHeads', 'numKeyValueHeads', 'maxPositionEmbeddings', 'numExpertsPerTok'] as const) checkInt(k, c[k]);
  for (const k of ['numLocalExperts', 'sharedExpertIntermediateSize'] as const) checkInt(k, c[k], 0);
  for (const k of ['rmsNormEps', 'ropeTheta', 'initializerRange'] as const) checkPos(k, c[k]);
  for (const k of ['routerAuxLossCoef', 'routerZLossCoef', 'routerNoiseStd', 'moeCapacityFactor'] as const) checkNonNeg(k, c[k]);
  for (const k of ['dropPath', 'hiddenDropout', 'routerJitterNoise'] as const) checkProb(k, c[k]);
  for (const k of ['tieWordEmbeddings', 'attentionGate', 'parallelResidual', 'deepNorm'] as const) checkBool(k, c[k]);
  if (c.padTokenId !== null && !(Number.isInteger(c.padTokenId) && c.padTokenId >= 0 && c.padTokenId < c.vocabSize)) {
    throw new ConfigError(`padTokenId must be null or an integer in [0, vocabSize), got ${JSON.stringify(c.padTokenId)}`);
  }
  if (c.xposScaleBase !== null) checkPos('xposScaleBase', c.xposScaleBase);
  if (c.layerScaleInit !== null && (typeof c.layerScaleInit !== 'number' || !Number.isFinite(c.layerScaleInit))) {
    throw new ConfigError(`layerScaleInit must be null or a finite number, got ${JSON.stringify(c.layerScaleInit)}`);
  }
  const rs = c.ropeScaling;
  if (rs !== null) {
    if (typeof rs !== 'object' || !['linear', 'dynamic', 'ntk'].includes(rs.type) || !(rs.factor >= 1)) {
      throw new ConfigError(`ropeScaling must be null or {type: "linear" | "dynamic" | "ntk", factor >= 1}, got ${JSON.stringify(rs)}`);
    }
    const extra = Object.keys(rs).filter((k) => k !== 'type' && k !== 'factor');
    if (extra.length) throw new ConfigError(`ropeScaling has unknown key(s) ${extra.join(', ')}; allowed: type, factor`);
  }
  if (c.hiddenSize % c.numAttentionHeads !== 0) throw new ConfigError(`hiddenSize ${c.hiddenSize} is not a multiple of numAttentionHeads ${c.numAttentionHeads}`);
  if ((c.hiddenSize / c.numAttentionHeads) % 2 !== 0) throw new ConfigError(`head dim ${c.hiddenSize / c.numAttentionHeads} must be even for RoPE`);
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0) throw new ConfigError(`numAttentionHeads ${c.numAttentionHeads} is not a multiple of numKeyValueHeads ${c.numKeyValueHeads}`);
  if (c.deepNorm && c.parallelResidual) throw new ConfigError('deepNorm and parallelResidual cannot be combined (DeepNorm is a sequential post-norm residual)');
  if (c.numLocalExperts > 0 && c.numExpertsPerTok > c.numLocalExperts) {
    throw new ConfigError(`numExpertsPerTok ${c.numExpertsPerTok} exceeds numLocalExperts ${c.numLocalExperts}`);
  }
  return c;
}

/** Defaults overridden by `overrides`; unknown keys and wrong types are rejected. */
export function makeConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  for (const k of Object.keys(overrides)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(k)) throw new ConfigError(`unknown config key "${k}"; allowed: ${CONFIG_KEYS.join(', ')}`);
  }
  const heads = overrides.numAttentionHeads ?? DEFAULT_CONFIG.numAttentionHeads;
  return validateConfig({ ...DEFAULT_CONFIG, numKeyValueHeads: heads, ...overrides });
}

export const headDim = (c: ModelConfig): number => c.hiddenSize / c.numAttentionHeads;

/**
 * The fields of `c` that transformers cannot represent (each set away from its default), by our name.
 * Empty means the config saves as model_type "llama" (dense) or "mixtral" (MoE).
 */
export function stellarOnlyFields(c: ModelConfig): (keyof ModelConfig)[] {
  const out: (keyof ModelConfig)[] = [];
  if (c.ropeScaling?.type === 'ntk') out.push('ropeScaling');
  for (const k of ['xposScaleBase', 'attentionGate', 'parallelResidual', 'deepNorm', 'layerScaleInit', 'dropPath', 'hiddenDropout',
    'routerZLossCoef', 'routerNoiseStd', 'moeCapacityFactor', 'sharedExpertIntermediateSize'] as const) {
    if (c[k] !== DEFAULT_CONFIG[k]) out.push(k);
  }
  return out;
}
