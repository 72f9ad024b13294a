// An adapter directory written by saveLoraAdapter loads unchanged in Hugging Face peft
// (PeftModel.from_pretrained) with the same logits, for name and RegExp targets and rsLoRA scaling.
// Needs a Python with torch + transformers + peft: $STELLAR_PYTHON, else <repo>/.venv-ref/bin/python,
// else python3; where none has them the test is skipped and its name says so.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Tensor, Generator, randn, copyInto, noGrad, saveSafetensors } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, savePretrained, applyLora, saveLoraAdapter, type LoraOptions } from '../src';

function findPython(): string | null {
  const candidates = [process.env.STELLAR_PYTHON, path.join(__dirname, '..', '..', '..', '.venv-ref', 'bin', 'python'), 'python3'];
  for (const py of candidates) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import torch, transformers, safetensors, peft'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

const python = findPython();
const run = python ? test : test.skip;
const title = python ? 'peft loads saveLoraAdapter directories with identical logits'
  : 'SKIPPED: no Python with torch + transformers + peft (set STELLAR_PYTHON) — peft loads saveLoraAdapter directories';

const config = makeConfig({ vocabSize: 48, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4,
  numKeyValueHeads: 2, ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: false, initializerRange: 0.1, padTokenId: 0 });
const cases: { name: string; opts: LoraOptions; modules: string[]; scaling: number }[] = [
  { name: 'names', opts: { r: 4, alpha: 8, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] }, scaling: 2,
    modules: [0, 1].flatMap((l) => [`self_attn.q_proj`, `self_attn.v_proj`].map((m) => `base_model.model.model.layers.${l}.${m}`)) },
  { name: 'regex-rslora', opts: { r: 4, alpha: 6, useRslora: true, targetModules: /model\.layers\.1\.mlp\.(gate|down)_proj|lm_head/ }, scaling: 3,
    modules: ['base_model.model.lm_head', 'base_model.model.model.layers.1.mlp.down_proj', 'base_model.model.model.layers.1.mlp.gate_proj'] },
];

run(title, () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-peft-'));
  try {
    const baseDir = path.join(root, 'base');
    savePretrained(new StellarForCausalLM(config, { seed: 3 }), baseDir);   // the base, before any adapter
    const ids = Tensor.fromArray([5, 0, 7, 47, 3, 9, 12, 1, 2, 30, 31, 4], [2, 6], { dtype: 'int64' });   // (B, T)
    const caseDirs: string[] = [];
    for (const c of cases) {
      const lora = applyLora(new StellarForCausalLM(config, { seed: 3 }), { ...c.opts, seed: 1 });
      const g = new Generator(9);   // B = 0 would hide the adapter from the logits
      noGrad(() => { for (const a of lora.adapters.values()) copyInto(a.loraB.weight.data, randn(a.loraB.weight.shape, { generator: g, std: 0.2 })); });
      const d = path.join(root, c.name);
      saveLoraAdapter(lora, path.join(d, 'adapter'));
      saveSafetensors(path.join(d, 'stellar_reference.safetensors'), { input_ids: ids, logits: lora.model.eval().forward(ids).logits });
      caseDirs.push(d);
      lora.model.dispose();
    }
    const r = spawnSync(python!, [path.join(__dirname, 'lora_peft_check.py'), baseDir, ...caseDirs], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    if (r.status !== 0) throw new Error(`python failed:\n${r.stderr}`);
    const outs = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(outs.length).toBe(cases.length);
    cases.forEach((c, i) => {
      expect(outs[i].loraModules).toEqual([...c.modules].sort());
      expect(outs[i].scaling).toEqual([c.scaling]);
      expect(outs[i].maxAbs).toBeGreaterThan(0.1);
      expect(outs[i].maxAbsDiff).toBeLessThan(1e-5);
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}, 180000);
