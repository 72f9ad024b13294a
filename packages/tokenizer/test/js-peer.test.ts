// A tokenizer.json we train and save loads in @huggingface/tokenizers (pure JS) and in our loader with identical ids.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tokenizer as HfJsTokenizer } from '@huggingface/tokenizers';
import { GPT4_PATTERN, loadTokenizer, saveTokenizer, splitPattern, trainBpe } from '@stellar/tokenizer';
import { corpusLines, readGolden } from './util/fixtures';

const golden = readGolden();
const texts = [...golden.gpt2.map((c) => c.text), ...corpusLines()];

describe.each([
  ['gpt2', undefined],
  ['gpt4', GPT4_PATTERN],
  ['qwen2', splitPattern('qwen2')],
] as const)('saved %s-pattern tokenizer', (_name, pattern) => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-tok-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('@huggingface/tokenizers and our loader encode like the trained tokenizer', async () => {
    const ours = await trainBpe(corpusLines(), { vocabSize: 480, minFrequency: 2, pattern, eosToken: '<|endoftext|>', padToken: '<|pad|>' });
    saveTokenizer(ours, dir);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(cfg.eos_token).toBe('<|endoftext|>');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'special_tokens_map.json'), 'utf8'))).toEqual({ eos_token: '<|endoftext|>', pad_token: '<|pad|>' });

    const peer = new HfJsTokenizer(json, cfg);
    const reloaded = loadTokenizer(dir);
    expect(reloaded.eosToken).toBe('<|endoftext|>');
    expect(reloaded.merges).toEqual(ours.merges);
    for (const t of texts) {
      const ids = ours.encode(t);
      expect(peer.encode(t, { add_special_tokens: false }).ids).toEqual(ids);
      expect(reloaded.encode(t)).toEqual(ids);
      // The peer refuses an empty id list.
      if (ids.length > 0) expect(peer.decode(ids, { skip_special_tokens: false })).toBe(t);
    }
  });
});
