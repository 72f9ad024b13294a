// Small seeded PRNG and shuffle for data order; not the tensor RNG (data order must not depend on model init).

/** A 32-bit mixing hash of the given integers (murmur3 finalizer chain), for deriving per-epoch seeds. */
export function mixSeed(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    // Seeds above 2^32 keep their high bits.
    for (const part of [x >>> 0, Math.floor(x / 0x100000000) >>> 0]) {
      h = Math.imul(h ^ part, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

/** mulberry32: returns uniform floats in [0, 1) with 32 bits of randomness. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const r1 = mulberry32(seed);
  const r2 = mulberry32(mixSeed(seed, 1));
  for (let i = n - 1; i > 0; i--) {
    // 53 random bits, so the pick is unbiased for any n a Uint32Array can hold.
    const u = (Math.floor(r1() * 2097152) * 4294967296 + r2() * 4294967296) / 9007199254740992;
    const j = Math.floor(u * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
