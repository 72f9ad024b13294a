// Hugging Face directory layout: config.json + model.safetensors, or shards model-0000i-of-0000n.safetensors
// with model.safetensors.index.json, under HF parameter names. Loading validates every name and shape
// against the config before any weight is copied.
import fs from 'node:fs';
import path from 'node:path';
import { Tensor, saveSafetensors, loadSafetensors, cast, type DType } from '@stellar/tensor';
import { fromHfConfig, hfConfigJson } from './hf-config';
import { StellarForCausalLM } from './model/causal-lm';

export interface SavePretrainedOptions {
  /** Largest shard in bytes, or a string like "500MB" / "5GB" (HF's default is "5GB"). */
  maxShardSize?: number | string;
  /** Stored dtype (default float32). */
  dtype?: 'float32' | 'bfloat16' | 'float16';
}

const INDEX = 'model.safetensors.index.json';
const SINGLE = 'model.safetensors';
const TORCH_DTYPE: Record<string, string> = { float32: 'float32', bfloat16: 'bfloat16', float16: 'float16' };

/** "5GB" -> 5e9, "500MB" -> 5e8 (decimal units, as HF), "2GiB" -> 2^31; numbers pass through. */
export function parseSize(s: number | string): number {
  if (typeof s === 'number') {
    if (!(s > 0)) throw new Error(`maxShardSize must be positive, got ${s}`);
    return s;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KIB|MIB|GIB)\s*$/i.exec(s);
  if (!m) throw new Error(`maxShardSize "${s}" is not a size like "500MB" or "5GB"`);
  const unit: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30 };
  return Math.floor(Number(m[1]) * unit[m[2].toUpperCase()]);
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

/**
 * Writes `dir/config.json` and the weights (a tied lm_head is not stored, as in HF): one
 * model.safetensors, or shards + index when they exceed maxShardSize. Weight files of an earlier
 * save in the same directory are removed so a stale shard can never be loaded.
 */
export function savePretrained(model: StellarForCausalLM, dir: string, opts: SavePretrainedOptions = {}): void {
  const max = parseSize(opts.maxShardSize ?? '5GB');
  const dtype = (opts.dtype ?? 'float32') as DType;
  fs.mkdirSync(dir, { recursive: true });
  const sd = model.stateDict();
  const adapters = [...sd.keys()].filter((n) => /\.lora_[AB]\.weight$/.test(n));
  if (adapters.length) {
    throw new Error(`savePretrained: the model carries LoRA adapters (${adapters[0]}, ...); save them with saveLoraAdapter, or merge() and removeLora() first to save merged weights`);
  }
  const converted: Tensor[] = [];
  const entries: [string, Tensor][] = [...sd].map(([n, t]) => {
    if (t.dtype === dtype) return [n, t];
    const d = t.detach();
    const c = cast(d, dtype);
    d.dispose();
    converted.push(c);
    return [n, c];
  });
  try {
    // greedy packing in state-dict order; a tensor larger than max gets a shard of its own
    const shards: [string, Tensor][][] = [[]];
    let size = 0;
    for (const e of entries) {
      const bytes = e[1].size * (dtype === 'float32' ? 4 : 2);
      if (size > 0 && size + bytes > max) { shards.push([]); size = 0; }
      shards[shards.length - 1].push(e);
      size += bytes;
    }
    for (const f of fs.readdirSync(dir)) {
      if (f === SINGLE || f === INDEX || /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)) fs.rmSync(path.join(dir, f));
    }
    if (shards.length === 1) {
      saveSafetensors(path.join(dir, SINGLE), new Map(entries), { format: 'pt' });
    } else {
      const n = shards.length, pad = (i: number) => String(i).padStart(5, '0');
      const weightMap: Record<string, string> = {};
      let total = 0;
      shards.forEach((s, i) => {
        const file = `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
        saveSafetensors(path.join(dir, file), new Map(s), { format: 'pt' });
        for (const [name, t] of s) { weightMap[name] = file; total += t.size * (dtype === 'float32' ? 4 : 2); }
      });
      writeJsonAtomic(path.join(dir, INDEX), { metadata: { total_size: total }, weight_map: weightMap });
    }
  } finally {
    for (const t of converted) t.dispose();
  }
  const cfgFile = path.join(dir, 'config.json');
  fs.writeFileSync(`${cfgFile}.tmp`, hfConfigJson(model.config, { torch_dtype: TORCH_DTYPE[dtype] }));
  fs.renameSync(`${cfgFile}.tmp`, cfgFile);
}

/** Reads the index of a sharded checkpoint: name -> shard file, with the files checked to be plain names in `dir`. */
function readIndex(dir: string): Map<string, string> {
  const file = path.join(dir, INDEX);
  let json: { weight_map?: Record<string, unknown> };
  try { json = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new Error(`fromPretrained: ${file} is not valid JSON (${(e as Error).message})`); }
  const wm = json?.weight_map;
  if (!wm || typeof wm !== 'object') throw new Error(`fromPretrained: ${file} has no weight_map object`);
  const out = new Map<string, string>();
  for (const [name, f] of Object.entries(wm)) {
    if (typeof f !== 'string' || f !== path.basename(f) || !f.endsWith('.safetensors')) throw new Error(`fromPretrained: ${file}: weight_map["${name}"] = ${JSON.stringify(f)} is not a .safetensors file name in the directory`);
    out.set(name, f);
  }
  return out;
}

/** Every tensor of the checkpoint as float32, from the single file or from all shards of the index. */
function readWeights(dir: string): Map<string, Tensor> {
  const single = path.join(dir, SINGLE);
  if (fs.existsSync(single)) return loadSafetensors(single, { dtype: 'float32' }).tensors;
  if (!fs.existsSync(path.join(dir, INDEX))) throw new Error(`fromPretrained: neither ${SINGLE} nor ${INDEX} found in ${dir}`);
  const index = readIndex(dir);
  const all = new Map<string, Tensor>();
  try {
    for (const file of new Set(index.values())) {
      const p = path.join(dir, file);
      if (!fs.existsSync(p)) throw new Error(`fromPretrained: shard ${file} listed in ${INDEX} is missing`);
      for (const [name, t] of loadSafetensors(p, { dtype: 'float32' }).tensors) {
        all.set(name, t);
        if (index.get(name) !== file) throw new Error(`fromPretrained: ${file} holds "${name}", which ${INDEX} ${index.has(name) ? `places in ${index.get(name)}` : 'does not list'}`);
      }
    }
    const absent = [...index.keys()].filter((n) => !all.has(n));
    if (absent.length) throw new Error(`fromPretrained: ${INDEX} lists tensors no shard holds: ${absent.join(', ')}`);
  } catch (e) {
    for (const t of all.values()) t.dispose();
    throw e;
  }
  return all;
}

/**
 * Builds the model from `dir/config.json` and loads the weights strictly: a missing, unexpected or
 * mis-shaped tensor is an error naming it. bf16/f16 weights are converted to float32. A tied
 * checkpoint that also stores lm_head.weight (some exporters do) must hold the embedding's values.
 */
export function fromPretrained(dir: string): StellarForCausalLM {
  const cfgPath = path.join(dir, 'config.json');
  if (!fs.existsSync(cfgPath)) throw new Error(`fromPretrained: ${cfgPath} not found`);
  const config = fromHfConfig(JSON.parse(fs.readFileSync(cfgPath, 'utf8')));
  const tensors = readWeights(dir);
  let model: StellarForCausalLM | null = null;
  try {
    if (config.tieWordEmbeddings && tensors.has('lm_head.weight')) {
      const lm = tensors.get('lm_head.weight')!, emb = tensors.get('model.embed_tokens.weight');
      const a = lm.toFloat64(), b = emb?.toFloat64();
      const same = b !== undefined && lm.shapeEquals(emb!.shape) && a.every((x, i) => x === b[i]);
      if (!same) throw new Error('fromPretrained: tie_word_embeddings is true but lm_head.weight differs from model.embed_tokens.weight');
      tensors.delete('lm_head.weight');
      lm.dispose();
    }
    model = new StellarForCausalLM(config);
    model.loadStateDict(tensors);
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return model;
}
