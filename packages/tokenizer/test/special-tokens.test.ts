// encode(text, { addSpecialTokens }) adds BOS/EOS exactly as tokenizer_config.json add_bos_token/add_eos_token say, and the flags round-trip.
import { Tokenizer, fromTokenizerJson, toTokenizerConfig, toTokenizerJson, trainBpe } from '@stellar/tokenizer';

const corpus = ['hello world, hello there', 'the world is wide and the sea is deep'];
let base: Tokenizer;
let json: unknown;
beforeAll(async () => {
  base = await trainBpe(corpus, { vocabSize: 300, specialTokens: ['<s>', '</s>'], bosToken: '<s>', eosToken: '</s>' });
  json = toTokenizerJson(base);
});

function withFlags(bos: boolean, eos: boolean) {
  return fromTokenizerJson(json, { ...(toTokenizerConfig(base) as object), add_bos_token: bos, add_eos_token: eos });
}

describe('addSpecialTokens', () => {
  const text = 'hello the sea';

  it('adds nothing unless asked, and follows each flag', () => {
    const plain = base.encode(text);
    const bosId = base.tokenToId('<s>')!;
    const eosId = base.tokenToId('</s>')!;
    expect(plain).not.toContain(bosId);
    expect(withFlags(true, true).encode(text)).toEqual(plain);
    expect(withFlags(true, false).encode(text, { addSpecialTokens: true })).toEqual([bosId, ...plain]);
    expect(withFlags(false, true).encode(text, { addSpecialTokens: true })).toEqual([...plain, eosId]);
    expect(withFlags(true, true).encode(text, { addSpecialTokens: true })).toEqual([bosId, ...plain, eosId]);
    expect(withFlags(false, false).encode(text, { addSpecialTokens: true })).toEqual(plain);
  });

  it('round-trips the flags through tokenizer_config.json', () => {
    const cfg = toTokenizerConfig(withFlags(true, false)) as Record<string, unknown>;
    expect(cfg.add_bos_token).toBe(true);
    expect(cfg.add_eos_token).toBe(false);
  });

  it('refuses add_bos_token without a bos_token', () => {
    expect(() => fromTokenizerJson(json, { add_bos_token: true })).toThrow(/no bos_token/);
  });
});
