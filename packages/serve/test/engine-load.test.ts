// Engine.load: model info, a LoRA adapter merged at load (outputs follow the adapted model, not the
// base), EOS from generation_config.json, a directory without a tokenizer, option checks.
import fs from 'node:fs';
import path from 'node:path';
import { Generator, copyInto, noGrad, randn } from '@stellar/tensor';
import { applyLora, saveLoraAdapter, savePretrained } from '@stellar/nn';
import { Engine, EngineError } from '../src';
import { fullForwardGreedy, prompts, tinyModelDir, tmpDir, type TinyModel, removeTmpDirs } from './util/tiny';

let tiny: TinyModel;
beforeAll(async () => { tiny = await tinyModelDir('load'); });
afterAll(() => { tiny.model.dispose(); removeTmpDirs(); });

function greedyVia(e: Engine, p: number[], n: number): number[] {
  const h = e.submit({ prompt: p, maxTokens: n, temperature: 0 });
  e.runUntilIdle();
  return (h as unknown as { buffer: { type: string; tokens: number[] }[] }).buffer.find((x) => x.type === 'done')!.tokens;
}

test('a LoRA adapter directory is applied: greedy follows the adapted model, not the base', async () => {
  const adapted = await tinyModelDir('load-lora');   // same seed: the same base weights as tiny.model
  const lora = applyLora(adapted.model, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], seed: 3 });
  const g = new Generator(9);
  noGrad(() => { for (const p of lora.loraParameters()) copyInto(p.data, randn(p.shape, { generator: g, std: 0.5 })); });
  const adapterDir = tmpDir('adapter');
  saveLoraAdapter(lora, adapterDir);
  adapted.model.eval();
  const p = prompts(3, tiny.tok.vocabSize, 17);
  const e = Engine.load({ model: tiny.dir, adapter: adapterDir, autoRun: false, eosTokenIds: [] });
  try {
    expect(e.info.adapter).toBe(adapterDir);
    let differs = false;
    for (const q of p) {
      const want = fullForwardGreedy(adapted.model, q, 8);
      expect(greedyVia(e, q, 8)).toEqual(want);
      if (JSON.stringify(want) !== JSON.stringify(fullForwardGreedy(tiny.model, q, 8))) differs = true;
    }
    expect(differs).toBe(true);   // the adapter really changes the output
  } finally { e.close(); adapted.model.dispose(); }
});

test('info, EOS from the tokenizer and generation_config.json, no-tokenizer directories, bad options', () => {
  const gcDir = tmpDir('gc');
  savePretrained(tiny.model, gcDir);
  fs.writeFileSync(path.join(gcDir, 'generation_config.json'), JSON.stringify({ eos_token_id: [7, 9] }));
  const e = Engine.load({ model: gcDir, autoRun: false, id: 'tiny' });
  try {
    expect(e.info).toMatchObject({ id: 'tiny', contextLength: 64, vocabSize: tiny.tok.vocabSize, eosTokenIds: [7, 9], hasTokenizer: false, adapter: null });
    expect(() => e.submit({ prompt: 'text' })).toThrow(/needs a tokenizer/);
    expect(() => e.submit({ prompt: [5, 6, 7], maxTokens: 3 })).not.toThrow();
    e.runUntilIdle();
  } finally { e.close(); }
  const withTok = Engine.load({ model: tiny.dir, autoRun: false });
  try {
    expect(withTok.info.eosTokenIds).toEqual([tiny.tok.tokenToId('<|endoftext|>')]);
    expect(withTok.info.id).toBe(path.basename(tiny.dir));
    expect(withTok.tokenize('the keeper', { addSpecialTokens: false })).toEqual(tiny.tok.encode('the keeper'));
    expect(withTok.detokenize(tiny.tok.encode('the keeper'))).toBe('the keeper');
  } finally { withTok.close(); }
  expect(() => Engine.load({ model: tiny.dir, maxBatch: 0 })).toThrow(EngineError);
  expect(() => Engine.load({ model: tiny.dir, threads: 0 })).toThrow(/threads must be an integer >= 1/);
  expect(() => Engine.load({ model: tmpDir('empty') })).toThrow(/config.json not found/);
  const closed = Engine.load({ model: tiny.dir, autoRun: false });
  closed.close();
  expect(() => closed.submit({ prompt: [1] })).toThrow(expect.objectContaining({ code: 'engine_closed', status: 503 }));
});
