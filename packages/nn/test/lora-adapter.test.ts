// PEFT adapter directories: saveLoraAdapter -> loadLoraAdapter round trip (config fields, PEFT tensor
// names, identical logits), and hostile directories refused with the offending file, field or tensor named.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor, Generator, randn, copyInto, noGrad, saveSafetensors, readSafetensorsHeader } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, applyLora, saveLoraAdapter, loadLoraAdapter, LoraAdapterError, type LoraModel } from '../src';
import { maxDiff } from './util/fixture';

const config = makeConfig({ vocabSize: 32, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4,
  numKeyValueHeads: 2, tieWordEmbeddings: true, initializerRange: 0.2 });
const ids = Tensor.fromArray([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], [2, 6], { dtype: 'int32' });   // (B, T)
const dirs: string[] = [];
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-lora-')); dirs.push(d); return d; };
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

function trained(opts: Partial<Parameters<typeof applyLora>[1]> = {}): LoraModel<StellarForCausalLM> {
  const lora = applyLora(new StellarForCausalLM(config, { seed: 0 }), { r: 3, alpha: 6, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], seed: 2, ...opts });
  const g = new Generator(5);
  noGrad(() => { for (const p of lora.loraParameters()) copyInto(p.data, randn(p.shape, { generator: g, std: 0.3 })); });
  return lora;
}

/** A PEFT-style dir from a config record and named tensors, for the hostile cases. */
function writeDir(cfg: Record<string, unknown>, tensors: Map<string, Tensor>): string {
  const d = tmp();
  fs.writeFileSync(path.join(d, 'adapter_config.json'), JSON.stringify(cfg));
  saveSafetensors(path.join(d, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  return d;
}

test('saveLoraAdapter writes PEFT config fields and names; loadLoraAdapter gives back the same model', () => {
  for (const opts of [{}, { useRslora: true, targetModules: /model\.layers\.\d+\.mlp\.(up|down)_proj/ }]) {
    const src = trained(opts);
    src.model.eval();
    const d = tmp();
    saveLoraAdapter(src, d, { baseModelNameOrPath: 'tiny-llama' });
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 3, lora_alpha: 6, lora_dropout: 0.1, bias: 'none',
      fan_in_fan_out: false, use_rslora: src.options.useRslora, base_model_name_or_path: 'tiny-llama', inference_mode: true });
    expect(cfg.target_modules).toEqual(opts.targetModules ? 'model\\.layers\\.\\d+\\.mlp\\.(up|down)_proj' : ['q_proj', 'v_proj']);
    const names = [...readSafetensorsHeader(path.join(d, 'adapter_model.safetensors')).entries.keys()].sort();
    expect(names).toEqual(src.namedLoraParameters().map(([n]) => `base_model.model.${n}`).sort());
    expect(names.length).toBe(8);

    const dst = loadLoraAdapter(new StellarForCausalLM(config, { seed: 0 }), d, { seed: 2 });
    expect(dst.options).toEqual(src.options);
    expect(dst.scaling).toBe(src.scaling);
    for (const [[n, p], [m, q]] of src.namedLoraParameters().map((x, i) => [x, dst.namedLoraParameters()[i]] as const)) {
      expect(m).toBe(n);
      expect(maxDiff(q.data, p.data).abs).toBe(0);
      expect(q.requiresGrad).toBe(true);
    }
    dst.model.eval();
    const a = src.model.forward(ids).logits, b = dst.model.forward(ids).logits;
    expect(maxDiff(b, a).abs).toBe(0);
    src.model.dispose(); dst.model.dispose();
  }
});

test('a RegExp with flags cannot be written to adapter_config.json', () => {
  const lora = trained({ targetModules: /.*Q_PROJ/i });
  expect(() => saveLoraAdapter(lora, tmp())).toThrow('flags "i"');
  lora.model.dispose();
});

describe('hostile adapter directories are refused by name and leave the model untouched', () => {
  const good = trained();
  const goodDir = tmp();
  saveLoraAdapter(good, goodDir);
  const cfg = JSON.parse(fs.readFileSync(path.join(goodDir, 'adapter_config.json'), 'utf8'));
  const tensors = () => new Map(good.namedLoraParameters().map(([n, p]) => [`base_model.model.${n}`, p.data]));
  const q0A = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';

  const cases: [string, () => string, string][] = [
    ['missing weights file', () => { const d = tmp(); fs.copyFileSync(path.join(goodDir, 'adapter_config.json'), path.join(d, 'adapter_config.json')); return d; },
      'adapter_model.safetensors not found'],
    ['missing config', () => { const d = tmp(); fs.copyFileSync(path.join(goodDir, 'adapter_model.safetensors'), path.join(d, 'adapter_model.safetensors')); return d; },
      'adapter_config.json not found'],
    ['config not JSON', () => { const d = writeDir(cfg, tensors()); fs.writeFileSync(path.join(d, 'adapter_config.json'), '{"r": 3,'); return d; },
      'adapter_config.json is not valid JSON'],
    ['wrong shape', () => { const t = tensors(); t.set(q0A, randn([4, 16])); return writeDir(cfg, t); },
      `tensor ${q0A} is [4, 16], expected [3, 16]`],
    ['unknown module', () => { const t = tensors(); t.set('base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight', randn([3, 16])); return writeDir(cfg, t); },
      'tensor base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight: the model has no module model.layers.7.self_attn.q_proj'],
    ['module not targeted', () => { const t = tensors(); t.set('base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight', randn([8, 3])); return writeDir(cfg, t); },
      'module model.layers.0.self_attn.k_proj is not selected by target_modules'],
    ['missing matrix', () => { const t = tensors(); t.delete('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight'); return writeDir(cfg, t); },
      'missing tensor base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight'],
    ['adapter name inside the tensor name', () => {
      const t = tensors(); const v = t.get(q0A)!; t.delete(q0A); t.set(q0A.replace('lora_A.weight', 'lora_A.default.weight'), v); return writeDir(cfg, t);
    }, 'unexpected tensor base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight'],
    ['integer tensor', () => { const t = tensors(); t.set(q0A, Tensor.fromArray(new Array(48).fill(1), [3, 16], { dtype: 'int32' })); return writeDir(cfg, t); },
      `tensor ${q0A} has dtype I32`],
    ['DoRA', () => writeDir({ ...cfg, use_dora: true }, tensors()), '"use_dora": true is not supported'],
    ['rank pattern', () => writeDir({ ...cfg, rank_pattern: { q_proj: 8 } }, tensors()), '"rank_pattern": {"q_proj":8} is not supported'],
    ['other PEFT method', () => writeDir({ ...cfg, peft_type: 'IA3' }, tensors()), '"peft_type" must be "LORA", got "IA3"'],
    ['bad rank', () => writeDir({ ...cfg, r: 2.5 }, tensors()), '"r" must be a positive integer, got 2.5'],
    ['bias training', () => writeDir({ ...cfg, bias: 'all' }, tensors()), '"bias": "all" is not supported'],
    ['PEFT shorthand target', () => writeDir({ ...cfg, target_modules: 'all-linear' }, tensors()), '"target_modules": "all-linear" is not supported'],
    ['targets matching nothing', () => writeDir({ ...cfg, target_modules: ['nope'] }, tensors()), 'match no module'],
  ];

  test.each(cases)('%s', (_what, make, message) => {
    const dir = make();
    const model = new StellarForCausalLM(config, { seed: 0 });
    const names = [...model.namedParameters()].map(([n]) => n);
    let err: unknown = null;
    try { loadLoraAdapter(model, dir); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(LoraAdapterError);
    expect((err as Error).message).toContain(message);
    expect([...model.namedParameters()].map(([n]) => n)).toEqual(names);
    expect(model.parameters().every((p) => p.requiresGrad)).toBe(true);
    model.dispose();
  });

  afterAll(() => good.model.dispose());
});
