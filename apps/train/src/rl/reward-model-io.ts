// A reward model (StellarForSequenceClassification, one score) in HF layout: config.json of a
// LlamaForSequenceClassification (num_labels 1) + model.safetensors under HF names (model.*, score.weight),
// so transformers' AutoModelForSequenceClassification loads it; and back, and from a causal LM's trunk.
import fs from 'node:fs';
import path from 'node:path';
import { StellarForSequenceClassification, fromHfConfig, hfConfigJson, type StellarForCausalLM } from '@stellar/nn';
import { loadSafetensors, saveSafetensors } from '@stellar/tensor';

const LABEL_KEYS = ['num_labels', 'id2label', 'label2id', 'problem_type'];

export function saveRewardModel(rm: StellarForSequenceClassification, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const text = hfConfigJson(rm.config, { architectures: [rm.config.numLocalExperts > 0 ? 'MixtralForSequenceClassification' : 'LlamaForSequenceClassification'], id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 } });
  fs.writeFileSync(path.join(dir, 'config.json'), text);
  saveSafetensors(path.join(dir, 'model.safetensors'), rm.stateDict(), { format: 'pt' });
}

export function loadRewardModel(dir: string): StellarForSequenceClassification {
  const cfgPath = path.join(dir, 'config.json');
  if (!fs.existsSync(cfgPath)) throw new Error(`reward model ${dir}: no config.json`);
  const json = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  const labels = json.id2label ? Object.keys(json.id2label).length : (json.num_labels ?? 1);
  if (labels !== 1) throw new Error(`reward model ${dir}: ${labels} labels, a reward model has 1`);
  for (const k of LABEL_KEYS) delete json[k];
  const rm = new StellarForSequenceClassification(fromHfConfig(json));
  const { tensors } = loadSafetensors(path.join(dir, 'model.safetensors'));
  try { rm.loadStateDict(tensors); } catch (e) { rm.dispose(); throw e; } finally { for (const t of tensors.values()) t.dispose(); }
  return rm;
}

/** A reward model whose trunk is the causal LM's (copied) and whose score head is fresh (seeded). */
export function rewardModelFrom(lm: StellarForCausalLM, seed: number): StellarForSequenceClassification {
  const rm = new StellarForSequenceClassification(lm.config, { seed });
  const trunk = new Map([...lm.stateDict()].filter(([k]) => k.startsWith('model.')));
  rm.loadStateDict(trunk, { strict: false });
  return rm;
}
