// decode(encode(x)) === x for arbitrary valid Unicode text, on both split patterns; lone surrogates become U+FFFD.
import path from 'node:path';
import { loadTokenizer, toByteLevel } from '@stellar/tokenizer';
import { FIXTURES } from './util/fixtures';

/** Deterministic xorshift32 so a failure is reproducible. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

// Ranges chosen to cover 1-4 byte UTF-8, controls, odd whitespace, combining marks and joiners.
const RANGES: [number, number][] = [
  [0x00, 0x7f], [0x80, 0xff], [0x300, 0x36f], [0x400, 0x4ff], [0x2000, 0x206f], [0x3000, 0x303f],
  [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xe000, 0xe0ff], [0xfe00, 0xfe0f], [0xfff0, 0xfffd], [0x1f300, 0x1faff], [0x10000, 0x10ffff],
];

function randomText(r: () => number): string {
  const n = Math.floor(r() * 40);
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = RANGES[Math.floor(r() * RANGES.length)];
    let cp = lo + Math.floor(r() * (hi - lo + 1));
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x20;
    s += r() < 0.3 ? ' ' : String.fromCodePoint(cp);
  }
  return s;
}

describe.each(['gpt2', 'gpt4'])('%s-style tokenizer', (style) => {
  const tok = loadTokenizer(path.join(FIXTURES, `hf-${style}`));

  test('random Unicode text round-trips exactly', () => {
    const r = rng(1234);
    for (let i = 0; i < 500; i++) {
      const s = randomText(r);
      const ids = tok.encode(s);
      expect(tok.decode(ids)).toBe(s);
    }
  });

  test('tokens concatenate to the byte-level text', () => {
    const s = 'mixed 🌊 灯塔 é\u0301 \u00a0\u3000 tab\t end\n';
    const ids = tok.encode(s);
    expect(ids.map((id) => tok.idToTokenString(id)).join('')).toBe(toByteLevel(s));
  });

  test('a lone surrogate cannot be UTF-8 encoded and comes back as U+FFFD', () => {
    expect(tok.decode(tok.encode('a\ud800b'))).toBe('a\ufffdb');
  });

  test('decoding a split multi-byte character yields U+FFFD instead of throwing', () => {
    const ids = tok.encode('🐟');
    expect(ids.length).toBeGreaterThan(1);
    expect(tok.decode(ids.slice(0, 1))).toContain('\ufffd');
  });
});
