// Builds what both sides of rl.bench.mjs load, under <repo>/.bench/rl-setup/: a byte-level BPE tokenizer
// trained by our trainBpe, a random-init small LLaMA saved by savePretrained (with the tokenizer) as an
// HF directory, and the built-in preference pairs and prompts as conversational JSONL for TRL's datasets.
// Deterministic; rebuilt only when the config changes. Not a bench itself.
import fs from 'node:fs';
import path from 'node:path';
import { StellarForCausalLM, makeConfig, savePretrained } from '@stellar/nn';
import { trainBpe, saveTokenizer } from '@stellar/tokenizer';
import { builtinCorpus, builtinPreferences, builtinPrompts } from '@stellar/data';

/** The model both sides train: small enough that a full bench run stays under ~10 minutes on 2 cores. */
export const MODEL = { vocab: 4096, dim: 256, layers: 4, heads: 8, kvHeads: 4, ffn: 688 };

const jsonl = (rows) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Returns { dir (HF model dir with tokenizer), prefs (JSONL path), prompts (JSONL path) }. */
export async function ensureSetup(root) {
  const base = path.join(root, '.bench', 'rl-setup');
  const dir = path.join(base, 'model');
  const stamp = path.join(base, 'stamp.json');
  const want = JSON.stringify({ MODEL, v: 1 });
  const out = { dir, prefs: path.join(base, 'prefs.jsonl'), prompts: path.join(base, 'prompts.jsonl') };
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return out;
  fs.mkdirSync(base, { recursive: true });
  const prefs = builtinPreferences().train, prompts = builtinPrompts().train;
  // the tokenizer sees Moby-Dick plus the task texts, so task prompts and answers encode compactly
  const corpus = builtinCorpus(['moby-dick']).files.map((f) => fs.readFileSync(f, 'utf8'));
  const texts = [...corpus, ...prefs.flatMap((p) => [p.prompt, p.chosen, p.rejected]), ...prompts.map((p) => p.prompt)];
  const tok = await trainBpe(texts, { vocabSize: MODEL.vocab, eosToken: '<|endoftext|>', bosToken: null, padToken: '<|pad|>', numThreads: 1 });
  const config = makeConfig({ vocabSize: tok.vocabSize, hiddenSize: MODEL.dim, intermediateSize: MODEL.ffn, numHiddenLayers: MODEL.layers,
    numAttentionHeads: MODEL.heads, numKeyValueHeads: MODEL.kvHeads, maxPositionEmbeddings: 512, rmsNormEps: 1e-6, ropeTheta: 10000, tieWordEmbeddings: false });
  const model = new StellarForCausalLM(config, { seed: 0 });
  savePretrained(model, dir);
  saveTokenizer(tok, dir);
  // TRL's conversational format: the trainers render it with the tokenizer's chat template, as we do
  fs.writeFileSync(out.prefs, jsonl(prefs.map((p) => ({ prompt: [{ role: 'user', content: p.prompt }], chosen: [{ role: 'assistant', content: p.chosen }], rejected: [{ role: 'assistant', content: p.rejected }] }))));
  fs.writeFileSync(out.prompts, jsonl(prompts.map((p) => ({ prompt: [{ role: 'user', content: p.prompt }], reference: p.reference }))));
  fs.writeFileSync(stamp, want);
  return out;
}
