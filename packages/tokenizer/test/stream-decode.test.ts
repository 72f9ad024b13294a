// StreamDecoder: characters whose UTF-8 bytes span several tokens come out once, whole; the pieces
// always join to decode(ids), special tokens included or skipped as decode does.
import path from 'node:path';
import { BYTE_TO_CHAR, loadTokenizer, StreamDecoder, trainBpe } from '@stellar/tokenizer';
import { FIXTURES } from './util/fixtures';
import { runReadmeExample } from '../../../tools/testing/readme-example';

const tok = loadTokenizer(path.join(FIXTURES, 'hf-gpt2'));
/** One byte-level token per byte, so every multi-byte character is split across ids. */
const byteIds = (bytes: Iterable<number>) => [...bytes].map((b) => tok.tokenToId(BYTE_TO_CHAR[b])!);

test('a character split over byte tokens is emitted whole, on its last byte', () => {
  const ids = byteIds(Buffer.from('aé€😀z', 'utf8'));
  expect(ids.length).toBe(1 + 2 + 3 + 4 + 1);
  const d = new StreamDecoder(tok);
  const pieces = ids.map((id) => d.push(id));
  expect(pieces).toEqual(['a', '', 'é', '', '', '€', '', '', '', '😀', 'z']);
  expect(d.flush()).toBe('');
  expect(pieces.join('')).toBe(tok.decode(ids));
});

test('pieces join to decode(ids) for real encodings; an unfinished character is flushed as U+FFFD', () => {
  const text = 'Grüße, 世界! 🌊 naïve café';
  const ids = tok.encode(text);
  const d = new StreamDecoder(tok);
  const pieces = ids.map((id) => d.push(id));
  expect(pieces.join('') + d.flush()).toBe(text);
  for (const p of pieces) expect(p).not.toContain('\uFFFD');
  const cut = new StreamDecoder(tok);
  expect(cut.pushAll([...ids, ...byteIds([0xe4, 0xb8])])).toBe(text);   // first two bytes of 世 held back
  expect(cut.flush()).toBe(tok.decode(byteIds([0xe4, 0xb8])));
  expect(tok.decode(byteIds([0xe4, 0xb8]))).toContain('\uFFFD');
  expect(cut.flush()).toBe('');
  // an invalid continuation is not held back forever: the bad byte becomes U+FFFD as in decode
  const bad = byteIds([0xe4, 0x41]);
  expect(new StreamDecoder(tok).pushAll(bad)).toBe(tok.decode(bad));
});

test('special tokens are kept or skipped like decode; unknown ids are refused', async () => {
  const t = await trainBpe(['hello world, hello there'], { vocabSize: 270, specialTokens: ['<|endoftext|>', '<|im_end|>'], numThreads: 1 });
  const ids = [...t.encode('hello'), t.tokenToId('<|im_end|>')!, ...t.encode(' there')];
  expect(new StreamDecoder(t).pushAll(ids)).toBe(t.decode(ids));
  expect(new StreamDecoder(t, { skipSpecialTokens: true }).pushAll(ids)).toBe(t.decode(ids, { skipSpecialTokens: true }));
  expect(t.decode(ids, { skipSpecialTokens: true })).toBe('hello there');
  expect(() => new StreamDecoder(t).push(99999)).toThrow(/unknown id 99999/);
});

test('the README streaming example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), 'Streaming decode');
  expect(logs[0]).toEqual(['pieces', ['c', 'a', 'f', '', 'é', ' ', '', '', '', '🌊']]);
  expect(logs[1]).toEqual(['same as decode', true]);
});
