// The data package's seeded PRNG (mulberry32, re-exported) and a stable string hash (FNV-1a): the built-in data is generated
// deterministically from a seed, and train/held-out splits are decided by hashing each item's key.
export { mulberry32 } from '../random';

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h >>> 0;
}

/** Deterministic split of an item key: 'test' for about `testPercent` percent of keys, else 'train'. */
export function splitOf(key: string, testPercent: number): 'train' | 'test' {
  return fnv1a(`split:${key}`) % 1000 < testPercent * 10 ? 'test' : 'train';
}

export const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
export const intIn = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
