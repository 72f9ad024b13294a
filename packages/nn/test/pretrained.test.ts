// HF directory layout: a directory written by transformers' save_pretrained loads with its logits,
// and savePretrained -> fromPretrained round-trips config and weights exactly.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor, loadSafetensors, saveSafetensors } from '@stellar/tensor';
import { StellarForCausalLM, fromPretrained, savePretrained, makeConfig, applyLora } from '../src';
import { FIXTURES, maxDiff } from './util/fixture';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-nn-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const small = makeConfig({ vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 1 });
const ids = Tensor.fromArray([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], [2, 5], { dtype: 'int32' });

test('a directory saved by transformers loads with identical logits', () => {
  const dir = path.join(FIXTURES, 'hf_llama_tiny');
  const model = fromPretrained(dir);
  expect(model.config).toMatchObject({ tieWordEmbeddings: false, numKeyValueHeads: 2, ropeTheta: 500000, padTokenId: 0 });
  expect(model.lmHead).not.toBeNull();
  const ref = loadSafetensors(path.join(dir, 'reference.safetensors')).tensors;
  const { logits } = model.eval().forward(ref.get('input_ids')!);
  const d = maxDiff(logits, ref.get('logits')!);
  expect(d.abs).toBeLessThan(1e-5);
  expect(d.scale).toBeGreaterThan(0.1);
  model.dispose();
});

test.each([false, true])('savePretrained -> fromPretrained round trip (tied %s)', (tie) => {
  const cfg = { ...small, tieWordEmbeddings: tie };
  const a = new StellarForCausalLM(cfg, { seed: 7 });
  const dir = path.join(tmp, `rt-${tie}`);
  savePretrained(a, dir);
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  expect(json).toMatchObject({ model_type: 'llama', tie_word_embeddings: tie, num_key_value_heads: 1 });
  const names = [...loadSafetensors(path.join(dir, 'model.safetensors')).tensors.keys()];
  expect(names.includes('lm_head.weight')).toBe(!tie);
  const b = fromPretrained(dir);
  expect(b.config).toEqual(cfg);
  expect(maxDiff(b.forward(ids).logits, a.forward(ids).logits).abs).toBe(0);
  a.dispose(); b.dispose();
});

test('a tied checkpoint that stores a different lm_head.weight is refused', () => {
  const a = new StellarForCausalLM({ ...small, tieWordEmbeddings: true }, { seed: 1 });
  const dir = path.join(tmp, 'tied-bad');
  savePretrained(a, dir);
  const sd = a.stateDict();
  const emb = sd.get('model.embed_tokens.weight')!;
  saveSafetensors(path.join(dir, 'model.safetensors'), new Map([...sd, ['lm_head.weight', emb.add(1)]]));
  expect(() => fromPretrained(dir)).toThrow(/lm_head.weight differs/);
  saveSafetensors(path.join(dir, 'model.safetensors'), new Map([...sd, ['lm_head.weight', emb]]));
  expect(() => fromPretrained(dir).dispose()).not.toThrow();
  a.dispose();
});

test('a checkpoint that does not fit the config names the offending tensor', () => {
  const a = new StellarForCausalLM(small, { seed: 1 });
  const dir = path.join(tmp, 'misfit');
  savePretrained(a, dir);
  const cfgPath = path.join(dir, 'config.json');
  const json = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  fs.writeFileSync(cfgPath, JSON.stringify({ ...json, intermediate_size: 32 }));
  expect(() => fromPretrained(dir)).toThrow(/model\.layers\.0\.mlp\.gate_proj\.weight is \[24, 16\], expected \[32, 16\]/);
  a.dispose();
});

test('sharded save: index + shards load back exactly; stale weight files of an earlier save are removed', () => {
  const a = new StellarForCausalLM(small, { seed: 3 });
  const dir = path.join(tmp, 'sharded');
  savePretrained(a, dir);                                  // a single file first
  savePretrained(a, dir, { maxShardSize: 3000 });          // then shards of <= 3000 bytes (bigger tensors alone)
  const files = fs.readdirSync(dir).sort();
  expect(files).not.toContain('model.safetensors');
  const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  expect(shards.length).toBeGreaterThan(2);
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
  expect(Object.keys(index.weight_map).sort()).toEqual([...a.stateDict().keys()].sort());
  expect(index.metadata.total_size).toBe(a.numParameters() * 4);
  const b = fromPretrained(dir);
  expect(maxDiff(b.forward(ids).logits, a.forward(ids).logits).abs).toBe(0);
  b.dispose();
  // a shard removed or an index entry pointing elsewhere is named in the error
  const idx = path.join(dir, 'model.safetensors.index.json');
  const moved = { ...index, weight_map: { ...index.weight_map, 'model.norm.weight': shards[0] } };
  if (index.weight_map['model.norm.weight'] !== shards[0]) {
    fs.writeFileSync(idx, JSON.stringify(moved));
    expect(() => fromPretrained(dir)).toThrow(/holds "model.norm.weight", which model.safetensors.index.json places in/);
  }
  fs.writeFileSync(idx, JSON.stringify({ ...index, weight_map: { ...index.weight_map, x: '../evil.safetensors' } }));
  expect(() => fromPretrained(dir)).toThrow(/weight_map\["x"\] = "..\/evil.safetensors" is not a .safetensors file name/);
  fs.writeFileSync(idx, JSON.stringify(index));
  fs.rmSync(path.join(dir, shards[1]));
  expect(() => fromPretrained(dir)).toThrow(new RegExp(`shard ${shards[1]} listed in model.safetensors.index.json is missing`));
  a.dispose();
});

test('bf16 save halves the file and loads back within bf16 rounding', () => {
  const a = new StellarForCausalLM(small, { seed: 5 });
  const dir = path.join(tmp, 'bf16');
  savePretrained(a, dir, { dtype: 'bfloat16' });
  expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).torch_dtype).toBe('bfloat16');
  const st = loadSafetensors(path.join(dir, 'model.safetensors'));
  expect([...st.tensors.values()].every((t) => t.dtype === 'bfloat16')).toBe(true);
  const b = fromPretrained(dir);
  for (const [n, t] of a.stateDict()) {
    const d = maxDiff(b.stateDict().get(n)!, t);
    expect(d.abs).toBeLessThanOrEqual(d.scale * 2 ** -8);
  }
  expect(() => savePretrained(a, dir, { maxShardSize: '5 parsecs' })).toThrow(/not a size like/);
  a.dispose(); b.dispose();
});

test('a model with LoRA adapters attached is not saved as a base checkpoint', () => {
  const a = new StellarForCausalLM(small, { seed: 2 });
  const lora = applyLora(a, { r: 2, targetModules: ['q_proj'] });
  expect(() => savePretrained(a, path.join(tmp, 'lora'))).toThrow(/carries LoRA adapters .*saveLoraAdapter, or merge\(\) and removeLora\(\)/);
  lora.merge();
  lora.removeLora();
  savePretrained(a, path.join(tmp, 'lora'));
  const b = fromPretrained(path.join(tmp, 'lora'));
  expect(maxDiff(b.forward(ids).logits, a.forward(ids).logits).abs).toBe(0);
  a.dispose(); b.dispose();
});
