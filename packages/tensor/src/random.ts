// Deterministic seeded randomness on Philox streams: a Generator is (seed, offset); each draw of n
// values advances the offset, so saving and restoring the state reproduces a run exactly.
import { Tensor } from './tensor';
import { args } from './args';
import type { Device } from './device';
import type { Shape } from './shape';
import { numel } from './shape';
import { mul } from './ops/binary';

const MASK64 = (1n << 64n) - 1n;

export interface GeneratorState { seed: string; offset: string }

export class Generator {
  private seed: bigint;
  private offset = 0n;
  constructor(seed: number | bigint = 0) { this.seed = BigInt.asUintN(64, BigInt(seed)); }

  manualSeed(seed: number | bigint): this { this.seed = BigInt.asUintN(64, BigInt(seed)); this.offset = 0n; return this; }

  /** Serializable state (decimal strings, safe for JSON). */
  getState(): GeneratorState { return { seed: this.seed.toString(), offset: this.offset.toString() }; }
  setState(s: GeneratorState): this { this.seed = BigInt(s.seed) & MASK64; this.offset = BigInt(s.offset) & MASK64; return this; }

  /** Reserves `count` values (4 per Philox block) and returns the block offset to start from. */
  reserve(count: number): bigint {
    const start = this.offset;
    this.offset = (this.offset + BigInt(Math.ceil(count / 4))) & MASK64;
    return start;
  }
  get seedValue(): bigint { return this.seed; }
}

/** The default generator used when none is passed. */
export const defaultGenerator = new Generator(0);
export function manualSeed(seed: number | bigint): void { defaultGenerator.manualSeed(seed); }

interface RandOpts { generator?: Generator; device?: Device; requiresGrad?: boolean }

function draw(dist: number, p0: number, p1: number, shape: Shape, opts: RandOpts): Tensor {
  const gen = opts.generator ?? defaultGenerator;
  const t = Tensor.empty(shape, { device: opts.device });
  const n = numel(shape);
  const off = gen.reserve(n);
  if (n > 0) args.begin().num(dist).num(p0).num(p1).u64(gen.seedValue).u64(off).tensor(t).run(t.device, 'rng');
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

/** Uniform in [low, high). */
export const rand = (shape: Shape, opts: RandOpts & { low?: number; high?: number } = {}): Tensor => draw(0, opts.low ?? 0, opts.high ?? 1, shape, opts);
/** Normal with the given mean and std (default standard normal). */
export const randn = (shape: Shape, opts: RandOpts & { mean?: number; std?: number } = {}): Tensor => draw(1, opts.mean ?? 0, opts.std ?? 1, shape, opts);

/** A dropout mask: 1/(1-p) with probability 1-p, else 0. */
export function dropoutMask(shape: Shape, p: number, opts: RandOpts = {}): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout probability must be in [0, 1), got ${p}`);
  return draw(2, 1 - p, 1 / (1 - p), shape, opts);
}

/** Inverted dropout: identity when not training or p = 0. */
export function dropout(x: Tensor, p: number, training: boolean, opts: RandOpts = {}): Tensor {
  if (!training || p === 0) return x.view(x.shape);
  const m = dropoutMask(x.shape, p, { ...opts, device: x.device });
  const y = mul(x, m);
  m.dispose();
  return y;
}

/** Samples n indices per row from non-negative weights (.., V), with replacement. Returns int64. */
export function multinomial(probs: Tensor, n: number, opts: { generator?: Generator } = {}): Tensor {
  if (probs.dtype !== 'float32') throw new Error('multinomial: weights must be float32');
  if (probs.ndim < 1) throw new Error('multinomial: weights need at least one dim');
  const gen = opts.generator ?? defaultGenerator;
  const rows = probs.size / probs.shape[probs.ndim - 1];
  const out = Tensor.empty([...probs.shape.slice(0, -1), n], { dtype: 'int64', device: probs.device });
  const c = probs.contiguous();
  try {
    const off = gen.reserve(rows * n);
    args.begin().num(n).u64(gen.seedValue).u64(off).tensor(c).tensor(out).run(probs.device, 'multinomial');
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    c.dispose();
  }
  return out;
}
