// LoRA options and their PEFT `adapter_config.json` form: writing it, and reading it back with every
// field checked (Stellar supports plain LoRA on Linear layers; any other PEFT feature is refused by name).
import type { Generator } from '@stellar/tensor';

export interface LoraOptions {
  /** Rank of the update B A. */
  r: number;
  /** Scale numerator: the update is multiplied by alpha / r (alpha / sqrt(r) with useRslora). Default 8, as PEFT. */
  alpha?: number;
  /** Dropout probability on the adapter's input, in training mode only. Default 0. */
  dropout?: number;
  /**
   * Which Linear layers get an adapter. A name like 'q_proj' matches every module whose dotted path is
   * that name or ends with `.q_proj`; a RegExp must match the whole dotted path (PEFT's re.fullmatch).
   */
  targetModules: string[] | RegExp;
  /** Seed of the A initialisation and the dropout masks. Default 0. */
  seed?: number;
  /** Rank-stabilised scaling alpha / sqrt(r). Default false. */
  useRslora?: boolean;
  /**
   * Where the dropout masks come from. Default: the model's own forward generator (a `generator` field
   * of the model or of a submodule, as StellarForCausalLM's trunk has), so gradient checkpointing, which
   * replays that generator, recomputes the same masks; else a generator seeded from `seed + 1`.
   */
  dropoutGenerator?: Generator;
}

/** Every option with its default filled in (the dropout generator is chosen by applyLora). */
export type ResolvedLoraOptions = Required<Omit<LoraOptions, 'dropoutGenerator'>>;

export function resolveLoraOptions(o: LoraOptions): ResolvedLoraOptions {
  const { dropoutGenerator: _g, ...rest } = o;
  const r = { alpha: 8, dropout: 0, seed: 0, useRslora: false, ...rest };
  if (!Number.isInteger(r.r) || r.r < 1) throw new Error(`LoRA: r must be a positive integer, got ${r.r}`);
  if (typeof r.alpha !== 'number' || !Number.isFinite(r.alpha)) throw new Error(`LoRA: alpha must be a finite number, got ${r.alpha}`);
  if (typeof r.dropout !== 'number' || !(r.dropout >= 0 && r.dropout < 1)) throw new Error(`LoRA: dropout must be in [0, 1), got ${r.dropout}`);
  if (typeof r.useRslora !== 'boolean') throw new Error(`LoRA: useRslora must be a boolean, got ${r.useRslora}`);
  const t = r.targetModules;
  if (t instanceof RegExp) {
    if (t.global || t.sticky) throw new Error('LoRA: targetModules RegExp must not have the g or y flag');
  } else if (!Array.isArray(t) || t.length === 0 || !t.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new Error('LoRA: targetModules must be a non-empty array of module names or a RegExp');
  }
  return r;
}

export const loraScaling = (o: ResolvedLoraOptions): number => (o.useRslora ? o.alpha / Math.sqrt(o.r) : o.alpha / o.r);

/** Does the module at dotted `path` match the targets? Same rule as PEFT's check_target_module_exists. */
export function matchesTarget(path: string, targets: string[] | RegExp): boolean {
  if (targets instanceof RegExp) {
    return new RegExp(`^(?:${targets.source})$`, targets.flags).test(path);
  }
  return targets.some((t) => path === t || path.endsWith('.' + t));
}

export interface PeftConfigExtras {
  /** Written as base_model_name_or_path (PEFT reads it only when no base model is passed). */
  baseModelNameOrPath?: string | null;
}

/** The adapter_config.json record PEFT's LoraConfig reads (field names as in peft 0.21). */
export function toPeftConfig(o: ResolvedLoraOptions, extras: PeftConfigExtras = {}): Record<string, unknown> {
  let targets: string[] | string;
  if (o.targetModules instanceof RegExp) {
    // Python's re has no flags field in the config; a pattern that needs JS flags cannot be written
    if (o.targetModules.flags !== '') throw new Error(`LoRA: a targetModules RegExp with flags "${o.targetModules.flags}" cannot be written to adapter_config.json`);
    targets = o.targetModules.source;
  } else targets = [...o.targetModules];
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: extras.baseModelNameOrPath ?? null,
    r: o.r,
    lora_alpha: o.alpha,
    lora_dropout: o.dropout,
    target_modules: targets,
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: o.useRslora,
    use_dora: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
  };
}

// Fields that change nothing about the forward pass of a loaded adapter: any value is accepted.
const INERT = new Set(['task_type', 'base_model_name_or_path', 'revision', 'peft_version', 'inference_mode',
  'init_lora_weights', 'auto_mapping', 'megatron_core', 'qalora_group_size']);
// Fields read into the options.
const READ = new Set(['peft_type', 'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'use_rslora', 'bias', 'fan_in_fan_out']);

/** null, false, "" or an empty array/object: the value PEFT uses for "feature not used". */
function isUnset(v: unknown): boolean {
  if (v === null || v === false || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/**
 * Reads an adapter_config.json record into LoRA options (seed is the caller's). Every problem is
 * reported, by field name, in one error: a wrong type, or any PEFT feature Stellar does not implement
 * (DoRA, rank/alpha patterns, modules_to_save, bias training, fan_in_fan_out, ...) set to a non-default value.
 */
export function fromPeftConfig(json: unknown, seed = 0): ResolvedLoraOptions {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('adapter_config.json: expected a JSON object');
  const c = json as Record<string, unknown>;
  const errors: string[] = [];
  if (c.peft_type !== 'LORA') errors.push(`"peft_type" must be "LORA", got ${JSON.stringify(c.peft_type)}`);
  if (!Number.isInteger(c.r) || (c.r as number) < 1) errors.push(`"r" must be a positive integer, got ${JSON.stringify(c.r)}`);
  const alpha = c.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) errors.push(`"lora_alpha" must be a number, got ${JSON.stringify(c.lora_alpha)}`);
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) errors.push(`"lora_dropout" must be a number in [0, 1), got ${JSON.stringify(c.lora_dropout)}`);
  const rs = c.use_rslora ?? false;
  if (typeof rs !== 'boolean') errors.push(`"use_rslora" must be a boolean, got ${JSON.stringify(c.use_rslora)}`);
  if ((c.bias ?? 'none') !== 'none') errors.push(`"bias": ${JSON.stringify(c.bias)} is not supported (only "none")`);
  if ((c.fan_in_fan_out ?? false) !== false) errors.push('"fan_in_fan_out": true is not supported (Linear weights are (out, in))');
  let targets: string[] | RegExp | null = null;
  const t = c.target_modules;
  if (t === 'all-linear') {
    errors.push('"target_modules": "all-linear" is not supported; list the module names');
  } else if (typeof t === 'string') {
    try { targets = new RegExp(t); } catch (e) { errors.push(`"target_modules" regex ${JSON.stringify(t)} does not compile: ${(e as Error).message}`); }
  } else if (Array.isArray(t) && t.length > 0 && t.every((s) => typeof s === 'string' && s.length > 0)) {
    targets = t as string[];
  } else {
    errors.push(`"target_modules" must be a non-empty list of module names or a regex string, got ${JSON.stringify(t)}`);
  }
  for (const [k, v] of Object.entries(c)) {
    if (READ.has(k) || INERT.has(k) || isUnset(v)) continue;
    errors.push(`"${k}": ${JSON.stringify(v)} is not supported`);
  }
  if (errors.length) throw new Error(`adapter_config.json: ${errors.join('; ')}`);
  return resolveLoraOptions({ r: c.r as number, alpha: alpha as number, dropout: dropout as number, targetModules: targets!, seed, useRslora: rs as boolean });
}
