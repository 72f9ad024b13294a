// Encoding (ids, tokens, offsets, masks, type ids) with post-processors, truncation and padding equals HF `tokenizers`'.
import { EncodeOptions, fromTokenizerJson, Tokenizer } from '@stellar/tokenizer';
import { baseJson, HfEncoding, PostCase, readEncodings } from './util/encodings';

const fx = readEncodings();
const cache = new Map<string, Tokenizer>();
function tokenizerFor(c: PostCase): Tokenizer {
  const key = `${c.base}/${c.post_processor}/${c.add_prefix_space}`;
  if (!cache.has(key)) cache.set(key, fromTokenizerJson(baseJson(c.base, fx.processors[c.post_processor], c.add_prefix_space), { pad_token: '<|pad|>' }));
  return cache.get(key)!;
}
function optionsOf(c: PostCase): EncodeOptions {
  return {
    addSpecialTokens: c.add_special_tokens,
    truncation: c.truncation ? { maxLength: c.truncation.max_length, side: c.truncation.direction } : undefined,
    padding: c.padding ? { length: c.padding.length, side: c.padding.direction } : undefined,
  };
}
function asHf(e: ReturnType<Tokenizer['encodeWithOffsets']>): HfEncoding {
  return { ids: e.ids, tokens: e.tokens, offsets: e.offsets, attention_mask: e.attentionMask, special_tokens_mask: e.specialTokensMask, type_ids: e.typeIds };
}

describe.each(fx.post.map((c) => [`${c.base}${c.add_prefix_space ? '+prefix' : ''} ${c.post_processor} ${c.setting} special=${c.add_special_tokens}`, c] as const))('%s', (_name, c) => {
  const tok = tokenizerFor(c);
  const opts = optionsOf(c);
  test('single texts', () => {
    fx.short.forEach((text, i) => {
      const e = tok.encodeWithOffsets(text, opts);
      expect({ text, ...asHf(e) }).toEqual({ text, ...c.single[i] });
      expect(tok.encode(text, opts)).toEqual(c.single[i].ids);
    });
  });
  test('pairs', () => {
    fx.pairs.forEach(([a, b], i) => {
      if (c.truncation) {
        expect(() => tok.encodeWithOffsets(a, { ...opts, pair: b })).toThrow(/truncation of a pair/);
        return;
      }
      expect({ a, b, ...asHf(tok.encodeWithOffsets(a, { ...opts, pair: b })) }).toEqual({ a, b, ...c.pairs[i] });
      expect(tok.encode(a, { ...opts, pair: b })).toEqual(c.pairs[i].ids);
    });
  });
});

describe('options', () => {
  const tok = fromTokenizerJson(baseJson('hf-gpt4', fx.processors.template), { pad_token: '<|pad|>' });
  test('truncation shorter than the special tokens is refused', () => {
    expect(() => tok.encode('hello world', { addSpecialTokens: true, truncation: { maxLength: 1 } })).toThrow(/maxLength 1/);
  });
  test('padding without a pad token needs an explicit padId', () => {
    const noPad = fromTokenizerJson(baseJson('hf-gpt4', null));
    expect(() => noPad.encodeWithOffsets('hi', { padding: { length: 4 } })).toThrow(/pad token/);
    expect(noPad.encodeWithOffsets('hi', { padding: { length: 4, padId: 0 } }).ids).toEqual([...noPad.encode('hi'), 0, 0, 0].slice(0, 4));
  });
  test('a lone surrogate is U+FFFD\'s 3 bytes, all spanning that one code unit', () => {
    const e = tok.encodeWithOffsets('a\ud800b');
    // 'a' and 'b' are pieces of their own under the GPT-4 pattern; the surrogate's bytes make 1 to 3 tokens.
    const middle = e.offsets.slice(1, -1);
    expect(middle.length).toBeGreaterThanOrEqual(1);
    expect(e.offsets).toEqual([[0, 1], ...middle.map(() => [1, 2]), [2, 3]]);
    expect(tok.decode(e.ids)).toBe('a\ufffdb');
    expect(e.ids).toEqual(tok.encode('a\ufffdb'));
  });
  test('a 300k-letter piece (one pre-tokenized word) encodes quickly and round-trips', () => {
    let x = 12345;
    const text = Array.from({ length: 300_000 }, () => 'ACGTacgt'[(x = (x * 1103515245 + 12345) & 0x7fffffff) % 8]).join('');
    const t0 = performance.now();
    const ids = tok.encode(text);
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(tok.decode(ids)).toBe(text);
  });
  test("padding 'longest' leaves a single encoding as it is", () => {
    expect(tok.encodeWithOffsets('hello', { padding: { length: 'longest' } }).ids).toEqual(tok.encode('hello'));
  });
});
