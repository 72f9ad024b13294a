// Our loader reads tokenizer.json files trained by HF `tokenizers` (Rust) and reproduces its ids exactly.
import path from 'node:path';
import { loadTokenizer } from '@stellar/tokenizer';
import { FIXTURES, readGolden } from './util/fixtures';

const golden = readGolden();

describe.each(['gpt2', 'gpt4'] as const)('HF-trained %s-style tokenizer', (style) => {
  const tok = loadTokenizer(path.join(FIXTURES, `hf-${style}`));

  test.each(golden[style].map((c) => [JSON.stringify(c.text).slice(0, 40), c] as const))('encode %s', (_name, c) => {
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.decode(c.ids)).toBe(c.text);
  });

  test('skipSpecialTokens drops only special tokens', () => {
    const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nhi');
  });
});
