// Split patterns behave like HF's regexes on hand-checked inputs; the byte map is GPT-2's.
import { BYTE_TO_CHAR, CHAR_TO_BYTE, compilePattern, GPT2_PATTERN, GPT4_PATTERN, splitPattern, splitText, toByteLevel } from '@stellar/tokenizer';

test('GPT-2 byte map: printable bytes map to themselves, others shift past 255 in byte order', () => {
  expect(BYTE_TO_CHAR[0x41]).toBe('A');
  expect(BYTE_TO_CHAR[0x20]).toBe('Ġ'); // U+0120: the 33rd shifted byte
  expect(BYTE_TO_CHAR[0x0a]).toBe('Ċ');
  expect(BYTE_TO_CHAR[0x00].charCodeAt(0)).toBe(256);
  expect(new Set(BYTE_TO_CHAR).size).toBe(256);
  for (let b = 0; b < 256; b++) expect(CHAR_TO_BYTE.get(BYTE_TO_CHAR[b].charCodeAt(0))).toBe(b);
  expect(toByteLevel('é')).toBe('Ã©');
});

test('GPT-2 pattern', () => {
  const re = compilePattern(GPT2_PATTERN);
  expect(splitText("Hello world's  12345 !!?\n\n  x", re)).toEqual(['Hello', ' world', "'s", ' ', ' 12345', ' !!?', '\n\n ', ' x']);
});

test('GPT-4 pattern: case-insensitive contractions and 3-digit number chunks', () => {
  const re = compilePattern(GPT4_PATTERN);
  expect(re.source).not.toContain('(?i:');
  expect(splitText("I'M here 1234567 ok!\n\nnext", re)).toEqual(['I', "'M", ' here', ' ', '123', '456', '7', ' ok', '!\n\n', 'next']);
});

test('individual digits option', () => {
  const gpt4 = compilePattern(splitPattern('gpt4', { individualDigits: true }));
  expect(splitText('a 2024', gpt4)).toEqual(['a', ' ', '2', '0', '2', '4']);
  const gpt2 = compilePattern(splitPattern('gpt2', { individualDigits: true }));
  expect(splitText('a 2024', gpt2)).toEqual(['a', ' ', '2', '0', '2', '4']);
  expect(splitPattern('qwen2')).toBe(splitPattern('gpt4', { individualDigits: true }));
});

test('a pattern JavaScript cannot compile is refused with a clear error', () => {
  expect(() => compilePattern('(?<!a')).toThrow(/split pattern is not supported/);
});

test("whitespace follows Oniguruma, not JavaScript: U+FEFF is not a space, U+0085 is (pieces checked against HF's Split)", () => {
  const re = compilePattern(GPT2_PATTERN);
  expect(splitText('a \ufeffb', re)).toEqual(['a', ' \ufeff', 'b']);
  expect(splitText('x\ufeff\ufeff y', re)).toEqual(['x', '\ufeff\ufeff', ' y']);
  expect(splitText('a \u0085\u0085 b', re)).toEqual(['a', ' \u0085\u0085', ' b']);
  expect(splitText('a\u0085\u0085bc', re)).toEqual(['a', '\u0085', '\u0085', 'bc']);
});
