// PEFT adapter directories: adapter_config.json + adapter_model.safetensors with PEFT's tensor names
// (base_model.model.<module path>.lora_A.weight / .lora_B.weight). Loading checks the config, every
// name and every shape against the model before anything is injected.
import fs from 'node:fs';
import path from 'node:path';
import { Tensor, saveSafetensors, loadSafetensors, readSafetensorsHeader, copyInto, noGrad } from '@stellar/tensor';
import { Module } from '../module';
import { Linear } from '../layers/linear';
import { applyLora, findLoraTargets, LoraModel } from './model';
import { toPeftConfig, fromPeftConfig, type PeftConfigExtras, type ResolvedLoraOptions } from './config';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

/** Thrown by loadLoraAdapter; `problems` lists every offending tensor or field. */
export class LoraAdapterError extends Error {
  constructor(readonly dir: string, readonly problems: string[]) {
    super(`loadLoraAdapter(${dir}): ${problems.join('; ')}`);
    this.name = 'LoraAdapterError';
  }
}

/** Writes the adapters (not the base weights) as PEFT's save_pretrained does. Merged adapters are saved too. */
export function saveLoraAdapter(lora: LoraModel, dir: string, extras: PeftConfigExtras = {}): void {
  const config = toPeftConfig(lora.options, extras);
  const tensors = new Map<string, Tensor>();
  for (const [n, p] of lora.namedLoraParameters()) tensors.set(PREFIX + n, p.data);
  fs.mkdirSync(dir, { recursive: true });
  saveSafetensors(path.join(dir, ADAPTER_WEIGHTS), tensors, { format: 'pt' });
  const tmp = path.join(dir, `${ADAPTER_CONFIG}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(config, null, 2) + '\n');
  fs.renameSync(tmp, path.join(dir, ADAPTER_CONFIG));
}

/**
 * Injects the adapter saved in `dir` (by PEFT or saveLoraAdapter) into `model` and returns its handle;
 * the base is frozen and the adapters are trainable, as after applyLora. Refuses, naming each tensor:
 * names outside PEFT's layout, tensors for modules the model lacks or target_modules does not select,
 * targeted modules without both matrices, and shapes other than A (r, in) / B (out, r). Nothing is
 * changed in the model when it refuses. `seed` seeds the dropout masks.
 */
export function loadLoraAdapter<M extends Module>(model: M, dir: string, opts: { seed?: number } = {}): LoraModel<M> {
  const cfgFile = path.join(dir, ADAPTER_CONFIG), wFile = path.join(dir, ADAPTER_WEIGHTS);
  for (const f of [cfgFile, wFile]) if (!fs.existsSync(f)) throw new LoraAdapterError(dir, [`${path.basename(f)} not found`]);
  let json: unknown;
  try { json = JSON.parse(fs.readFileSync(cfgFile, 'utf8')); } catch (e) { throw new LoraAdapterError(dir, [`${ADAPTER_CONFIG} is not valid JSON: ${(e as Error).message}`]); }
  let o: ResolvedLoraOptions;
  try { o = fromPeftConfig(json, opts.seed ?? 0); } catch (e) { throw new LoraAdapterError(dir, [(e as Error).message]); }

  const modules = new Map<string, Module>(model.namedModules());
  let targets: Map<string, Linear>;
  try { targets = findLoraTargets(model, o.targetModules); } catch (e) { throw new LoraAdapterError(dir, [(e as Error).message]); }
  const header = readSafetensorsHeader(wFile);
  const problems: string[] = [];
  for (const [name, e] of header.entries) {
    const m = name.match(/^base_model\.model\.(.+)\.lora_([AB])\.weight$/);
    if (!m) { problems.push(`unexpected tensor ${name} (expected ${PREFIX}<module>.lora_A.weight / .lora_B.weight)`); continue; }
    const [, mod, which] = m;
    const lin = targets.get(mod);
    if (!lin) {
      problems.push(modules.has(mod) ? `tensor ${name}: module ${mod} is not selected by target_modules`
        : `tensor ${name}: the model has no module ${mod}`);
      continue;
    }
    const want = which === 'A' ? [o.r, lin.inFeatures] : [lin.outFeatures, o.r];
    if (e.dtype === null || (e.dtype !== 'float32' && e.dtype !== 'bfloat16' && e.dtype !== 'float16')) {
      problems.push(`tensor ${name} has dtype ${e.fileDtype}, expected a float dtype`);
    } else if (e.shape.length !== 2 || e.shape[0] !== want[0] || e.shape[1] !== want[1]) {
      problems.push(`tensor ${name} is [${e.shape.join(', ')}], expected [${want.join(', ')}]`);
    }
  }
  for (const mod of targets.keys()) {
    for (const w of ['A', 'B']) {
      const n = `${PREFIX}${mod}.lora_${w}.weight`;
      if (!header.entries.has(n)) problems.push(`missing tensor ${n}`);
    }
  }
  if (problems.length) throw new LoraAdapterError(dir, problems);

  const { tensors } = loadSafetensors(wFile, { dtype: 'float32' });
  try {
    const lora = applyLora(model, o);
    noGrad(() => {
      for (const [n, p] of lora.namedLoraParameters()) copyInto(p.data, tensors.get(PREFIX + n)!);
    });
    return lora;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
