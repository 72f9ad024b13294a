// Hugging Face directory layout: config.json (model_type "llama") + model.safetensors with HF names.
// Loading validates every name and shape against the config before any weight is copied.
import fs from 'node:fs';
import path from 'node:path';
import { saveSafetensors, loadSafetensors } from '@stellar/tensor';
import { fromHfConfig, toHfConfig } from './hf-config';
import { StellarForCausalLM } from './model/causal-lm';

/** Writes `dir/config.json` and `dir/model.safetensors` (float32; a tied lm_head is not stored, as in HF). */
export function savePretrained(model: StellarForCausalLM, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  saveSafetensors(path.join(dir, 'model.safetensors'), model.stateDict(), { format: 'pt' });
  const tmp = path.join(dir, 'config.json.tmp');
  fs.writeFileSync(tmp, JSON.stringify(toHfConfig(model.config), null, 2) + '\n');
  fs.renameSync(tmp, path.join(dir, 'config.json'));
}

/**
 * Builds the model from `dir/config.json` and loads `dir/model.safetensors` strictly: a missing,
 * unexpected or mis-shaped tensor is an error naming it. bf16/f16 weights are converted to float32.
 * A tied checkpoint that also stores lm_head.weight (some exporters do) must hold the embedding's values.
 */
export function fromPretrained(dir: string): StellarForCausalLM {
  const cfgPath = path.join(dir, 'config.json');
  const st = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(cfgPath)) throw new Error(`fromPretrained: ${cfgPath} not found`);
  if (!fs.existsSync(st)) throw new Error(`fromPretrained: ${st} not found (sharded checkpoints are not supported yet)`);
  const config = fromHfConfig(JSON.parse(fs.readFileSync(cfgPath, 'utf8')));
  const { tensors } = loadSafetensors(st, { dtype: 'float32' });
  const model = new StellarForCausalLM(config);
  try {
    if (config.tieWordEmbeddings && tensors.has('lm_head.weight')) {
      const lm = tensors.get('lm_head.weight')!, emb = tensors.get('model.embed_tokens.weight');
      const a = lm.toFloat64(), b = emb?.toFloat64();
      const same = b !== undefined && lm.shapeEquals(emb!.shape) && a.every((x, i) => x === b[i]);
      if (!same) throw new Error('fromPretrained: tie_word_embeddings is true but lm_head.weight differs from model.embed_tokens.weight');
      tensors.delete('lm_head.weight');
      lm.dispose();
    }
    model.loadStateDict(tensors);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return model;
}
