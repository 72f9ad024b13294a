// tokenizer.json post_processor: supported types load and save back; others are refused by name; BOS/EOS flags save
// as a TemplateProcessing that @huggingface/tokenizers applies exactly as we do.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tokenizer as HfJsTokenizer } from '@huggingface/tokenizers';
import { fromTokenizerJson, loadTokenizer, saveTokenizer, toTokenizerJson, trainBpe } from '@stellar/tokenizer';
import { baseJson, readEncodings } from './util/encodings';

const fx = readEncodings();

describe('loading', () => {
  test.each(['BertProcessing', 'RobertaProcessing', 'Whatever'])('refuses a %s post_processor, naming it', (type) => {
    expect(() => fromTokenizerJson(baseJson('hf-gpt4', { type, sep: ['</s>', 2], cls: ['<s>', 0] }))).toThrow(new RegExp(`post_processor type "${type}" is not supported`));
    expect(() => fromTokenizerJson(baseJson('hf-gpt4', { type: 'Sequence', processors: [{ type }] }))).toThrow(new RegExp(`"${type}"`));
  });

  test('refuses a template naming a special token it does not define', () => {
    const bad = JSON.parse(JSON.stringify(fx.processors.template));
    delete bad.special_tokens['<|im_end|>'];
    expect(() => fromTokenizerJson(baseJson('hf-gpt4', bad))).toThrow(/special token "<\|im_end\|>" missing/);
  });

  test.each(['template', 'bytelevel', 'sequence'])('a %s post_processor survives save and load unchanged', (name) => {
    const tok = fromTokenizerJson(baseJson('hf-gpt4', fx.processors[name]));
    const again = fromTokenizerJson(JSON.parse(JSON.stringify(toTokenizerJson(tok))));
    expect(again.postProcessor).toEqual(tok.postProcessor);
    expect(again.encode('hi there', { addSpecialTokens: true })).toEqual(tok.encode('hi there', { addSpecialTokens: true }));
  });

  test('Sequence[TemplateProcessing, ByteLevel] trims the merged encoding, as HF does', () => {
    const tok = fromTokenizerJson(baseJson('hf-gpt4', { type: 'Sequence', processors: [fx.processors.template, fx.processors.bytelevel] }));
    // From HF tokenizers 0.23.2 with this post_processor on the hf-gpt4 fixture.
    const e = tok.encodeWithOffsets(' hello  world  ', { addSpecialTokens: true });
    expect(e.ids).toEqual([1, 345, 79, 335, 224, 269, 271, 79, 71, 270, 2]);
    expect(e.offsets).toEqual([[0, 0], [0, 3], [3, 4], [4, 6], [7, 7], [8, 9], [9, 11], [11, 12], [12, 13], [15, 15], [0, 0]]);
    expect(() => fromTokenizerJson(baseJson('hf-gpt4', { type: 'Sequence', processors: [fx.processors.template, fx.processors.template] }))).toThrow(/more than one TemplateProcessing/);
  });

  test('refuses a template whose special token id is not in the vocabulary', () => {
    const bad = JSON.parse(JSON.stringify(fx.processors.template));
    bad.special_tokens['<|im_end|>'].ids = [99999];
    expect(() => fromTokenizerJson(baseJson('hf-gpt4', bad))).toThrow(/uses id 99999, which is not in the vocabulary/);
  });

  test('a file template wins over add_bos_token / add_eos_token', () => {
    const tok = fromTokenizerJson(baseJson('hf-gpt4', fx.processors.template), { bos_token: '<|endoftext|>', add_bos_token: true });
    expect(tok.encode('x', { addSpecialTokens: true })).toEqual([1, ...tok.encode('x'), 2]);
  });
});

describe('saving BOS/EOS adding', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-post-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writes a TemplateProcessing that HF JS applies like us, and that reloads to the same ids', async () => {
    const base = await trainBpe(['hello world, hello there', 'the sea is deep'], { vocabSize: 300, specialTokens: ['<s>', '</s>'] });
    const tok = fromTokenizerJson(toTokenizerJson(base), { bos_token: '<s>', eos_token: '</s>', add_bos_token: true, add_eos_token: true });
    saveTokenizer(tok, dir);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    expect(json.post_processor.type).toBe('TemplateProcessing');
    const peer = new HfJsTokenizer(json, JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')));
    const again = loadTokenizer(dir);
    for (const text of ['hello the sea', 'x', '']) {
      const ids = tok.encode(text, { addSpecialTokens: true });
      expect(ids).toEqual([0, ...tok.encode(text), 1]);
      expect(peer.encode(text, { add_special_tokens: true }).ids).toEqual(ids);
      expect(again.encode(text, { addSpecialTokens: true })).toEqual(ids);
    }
    const pair = tok.encodeWithOffsets('hello', { addSpecialTokens: true, pair: 'sea' });
    expect(pair.ids).toEqual([0, ...tok.encode('hello'), 1, 0, ...tok.encode('sea'), 1]);
    expect(pair.typeIds).toEqual(pair.ids.map((_, i) => (i < tok.encode('hello').length + 2 ? 0 : 1)));
  });

  test('writes no post_processor when nothing is added', async () => {
    const base = await trainBpe(['hello world'], { vocabSize: 270 });
    expect(toTokenizerJson(base).post_processor).toBeNull();
  });
});
