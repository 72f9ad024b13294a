// A directory written by savePretrained loads unchanged in Hugging Face transformers with the same
// logits. Needs a Python with torch + transformers: $STELLAR_PYTHON, else <repo>/.venv-ref/bin/python,
// else python3; where none has them the test is skipped and its name says so.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Tensor, saveSafetensors } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, savePretrained, type ModelConfig, type SavePretrainedOptions } from '../src';

function findPython(): string | null {
  const candidates = [process.env.STELLAR_PYTHON, path.join(__dirname, '..', '..', '..', '.venv-ref', 'bin', 'python'), 'python3'];
  for (const py of candidates) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import torch, transformers, safetensors'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

const python = findPython();
interface Case { tie: boolean; extra?: Partial<ModelConfig>; save?: SavePretrainedOptions; cls?: string }
const cases: [string, Case][] = [
  ['untied', { tie: false }],
  ['tied', { tie: true }],
  ['sharded, linear RoPE scaling', { tie: false, extra: { ropeScaling: { type: 'linear', factor: 2 } }, save: { maxShardSize: 4000 } }],
  ['dynamic NTK RoPE past the trained length', { tie: true, extra: { ropeScaling: { type: 'dynamic', factor: 2 }, maxPositionEmbeddings: 4 } }],
  ['Mixtral MoE', { tie: false, extra: { numLocalExperts: 4, numExpertsPerTok: 2, routerAuxLossCoef: 0.02 }, cls: 'MixtralForCausalLM' }],
];
const run = python ? test.each(cases) : test.skip.each(cases);
const title = python ? 'transformers loads a savePretrained directory with identical logits (%s)'
  : 'SKIPPED: no Python with torch + transformers (set STELLAR_PYTHON) — transformers loads a savePretrained directory (%s)';

run(title, (_name, c) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-hf-'));
  try {
    const config = makeConfig({ vocabSize: 48, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4,
      numKeyValueHeads: 1, ropeTheta: 20000, rmsNormEps: 1e-5, tieWordEmbeddings: c.tie, initializerRange: 0.2, padTokenId: 0, ...c.extra });
    const model = new StellarForCausalLM(config, { seed: 11 });
    savePretrained(model, dir, c.save);
    const ids = Tensor.fromArray([5, 0, 7, 47, 3, 9, 12, 1, 2, 30, 31, 4], [2, 6], { dtype: 'int64' });   // (B, T)
    saveSafetensors(path.join(dir, 'stellar_reference.safetensors'), { input_ids: ids, logits: model.forward(ids).logits });
    const r = spawnSync(python!, [path.join(__dirname, 'hf_load_check.py'), dir], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    if (r.status !== 0) throw new Error(`python failed:\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.class).toBe(c.cls ?? 'LlamaForCausalLM');
    expect(out.tied).toBe(c.tie);
    expect(out.maxAbs).toBeGreaterThan(0.1);
    expect(out.maxAbsDiff).toBeLessThan(1e-5);
    model.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120000);
