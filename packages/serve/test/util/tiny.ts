// Test fixtures: a tiny byte-level BPE trained on a few sentences and a random-init model saved
// together as an HF-layout directory, plus reference decoders that use no KV cache.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor, noGrad, tidy } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, savePretrained, type ModelConfig } from '@stellar/nn';
import { saveTokenizer, trainBpe, type Tokenizer } from '@stellar/tokenizer';

export const CORPUS = [
  'The lighthouse keeper climbed the steps before dawn.',
  'Ships came home at dusk; the keeper wiped the lens.',
  'Fog rolled over the harbour and the bell rang twice.',
  'Le gardien du phare monte les marches avant l’aube. café naïve Grüße',
  '灯塔看守人 世界 🌊 東京 — “quotes” and ½ ¾ €',
];

const made: string[] = [];

export function tmpDir(name: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `stellar-serve-${name}-`));
  made.push(d);
  return d;
}

/** Removes every directory tmpDir made in this test file. */
export function removeTmpDirs(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export interface TinyModel { dir: string; tok: Tokenizer; model: StellarForCausalLM }

/** Writes a model dir (config.json, model.safetensors, tokenizer.json, tokenizer_config.json). */
export async function tinyModelDir(name: string, extra: Partial<ModelConfig> = {}, seed = 11): Promise<TinyModel> {
  const tok = await trainBpe(CORPUS, { vocabSize: 330, eosToken: '<|endoftext|>', padToken: '<|pad|>', numThreads: 1 });
  const cfg = makeConfig({
    vocabSize: tok.vocabSize, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
    initializerRange: 0.3, maxPositionEmbeddings: 64, ...extra,
  });
  const model = new StellarForCausalLM(cfg, { seed }).eval();
  const dir = tmpDir(name);
  savePretrained(model, dir);
  saveTokenizer(tok, dir);
  return { dir, tok, model };
}

/** Greedy continuation by full forward passes (no cache): argmax of the last position, n times. */
export function fullForwardGreedy(model: StellarForCausalLM, prompt: number[], n: number, eos: number[] = []): number[] {
  const seq = [...prompt], out: number[] = [];
  for (let i = 0; i < n; i++) {
    const logits = noGrad(() => tidy(() => model.forward(Tensor.fromArray(seq, [1, seq.length], { dtype: 'int32' }), { logitsToKeep: 1 }).logits.toFloat64()));
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    out.push(best);
    seq.push(best);
    if (eos.includes(best)) break;
  }
  return out;
}

/** Deterministic token-id prompts in [4, V) (ids below 4 are the special tokens). */
export function prompts(n: number, V: number, seed: number, minLen = 2, maxLen = 12): number[][] {
  let s = seed >>> 0;
  const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  return Array.from({ length: n }, () => Array.from({ length: minLen + Math.floor(rnd() * (maxLen - minLen + 1)) }, () => 4 + Math.floor(rnd() * (V - 4))));
}
