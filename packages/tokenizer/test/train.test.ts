// The trainer reproduces HF's BpeTrainer merges exactly on the same corpus, and is deterministic.
import { GPT4_PATTERN, trainBpe } from '@stellar/tokenizer';
import { corpusLines, hfMerges, readGolden } from './util/fixtures';

const golden = readGolden();
const opts = { vocabSize: golden.vocab_size, minFrequency: golden.min_frequency, specialTokens: golden.special_tokens };

test('GPT-2 pattern: same merges and vocab as HF tokenizers', async () => {
  const tok = await trainBpe(corpusLines(), opts);
  expect(tok.merges).toEqual(hfMerges('hf-gpt2'));
  expect(tok.vocabSize).toBe(golden.vocab_size);
  for (const c of golden.gpt2) expect(tok.encode(c.text)).toEqual(c.ids);
});

test('GPT-4 pattern: same merges as HF tokenizers', async () => {
  const tok = await trainBpe(corpusLines(), { ...opts, pattern: GPT4_PATTERN });
  expect(tok.merges).toEqual(hfMerges('hf-gpt4'));
  for (const c of golden.gpt4) expect(tok.encode(c.text)).toEqual(c.ids);
});

test('deterministic: sync and async input, repeated runs give identical merges', async () => {
  async function* lines() {
    for (const l of corpusLines()) yield l;
  }
  const a = await trainBpe(corpusLines(), opts);
  const b = await trainBpe(lines(), opts);
  expect(b.merges).toEqual(a.merges);
  expect([...b.vocab]).toEqual([...a.vocab]);
});

test('special tokens take the first ids and are never merged', async () => {
  const tok = await trainBpe(['<|x|><|x|> hello hello hello<|y|>'], { vocabSize: 300, specialTokens: ['<|x|>', '<|y|>'] });
  expect(tok.tokenToId('<|x|>')).toBe(0);
  expect(tok.tokenToId('<|y|>')).toBe(1);
  expect(tok.merges.some(([l, r]) => (l + r).includes('|'))).toBe(false);
  expect(tok.encode('<|y|>hello')[0]).toBe(1);
});

test('minFrequency stops merging when the best pair is too rare', async () => {
  const tok = await trainBpe(['aaab', 'aaab', 'cd'], { vocabSize: 1000, minFrequency: 2, specialTokens: [] });
  // 'a a' (4) then 'aa a'... only pairs seen at least twice merge; 'c d' (1) never does.
  expect(tok.merges.length).toBeGreaterThan(0);
  expect(tok.merges).not.toContainEqual(['c', 'd']);
  expect(tok.vocabSize).toBe(256 + tok.merges.length);
});

test('vocabSize caps the vocabulary', async () => {
  const tok = await trainBpe(corpusLines(), { ...opts, vocabSize: 300 });
  expect(tok.vocabSize).toBe(300);
  expect(tok.merges.length).toBe(300 - 256 - golden.special_tokens.length);
});

test('a single string is one text, not a list of characters', async () => {
  const text = 'low lower lowest low low';
  const one = await trainBpe(text, { vocabSize: 270, specialTokens: [] });
  const list = await trainBpe([text], { vocabSize: 270, specialTokens: [] });
  expect(one.merges.length).toBeGreaterThan(0);
  expect(one.merges).toEqual(list.merges);
});
