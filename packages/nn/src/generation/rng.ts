// A small seeded PRNG for sampling (SplitMix64 -> uniform doubles): reproducible across runs and
// platforms, independent of the tensor generators so sampling never shifts training randomness.
export class SamplingRng {
  private s: bigint;
  constructor(seed: number | bigint) { this.s = BigInt.asUintN(64, BigInt(seed)); }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    this.s = BigInt.asUintN(64, this.s + 0x9e3779b97f4a7c15n);
    let z = this.s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    z ^= z >> 31n;
    return Number(z >> 11n) / 2 ** 53;
  }
}
