// Splits each global batch between ranks: rank r takes micro-batches r, r + N, r + 2N, ... of the
// underlying stream. Every rank reads the whole stream, so the cursor (and checkpoints) agree.
import type { Batch, BatchSource } from '../trainer/types';
import type { DistributedContext } from './context';

/**
 * Wraps a source so that each `next()` reads `worldSize` micro-batches and returns this rank's one.
 * With `gradAccum = globalAccum / worldSize` per rank, N ranks see exactly the micro-batches one rank
 * would see with `globalAccum`. An incomplete last group ends the stream on every rank alike.
 */
export function shardedSource<S extends BatchSource & { close?(): void | Promise<void> }>(source: S, ctx: DistributedContext): BatchSource & { close?(): void | Promise<void> } {
  if (ctx.worldSize === 1) return source;
  return {
    async next(): Promise<Batch | null> {
      let mine: Batch | null = null;
      for (let r = 0; r < ctx.worldSize; r++) {
        const b = await source.next();
        if (!b) return null;
        if (r === ctx.rank) mine = b;
      }
      return mine;
    },
    state: () => source.state(),
    restore: (s) => source.restore(s),
    close: source.close ? () => source.close!() : undefined,
  };
}

/** Micro-batches per rank for a global batch of `globalAccum` micro-batches (must divide evenly). */
export function perRankAccum(globalAccum: number, ctx: DistributedContext): number {
  if (!Number.isInteger(globalAccum) || globalAccum < 1 || globalAccum % ctx.worldSize !== 0) {
    throw new Error(`gradAccum ${globalAccum} micro-batches cannot be split evenly over ${ctx.worldSize} ranks`);
  }
  return globalAccum / ctx.worldSize;
}
