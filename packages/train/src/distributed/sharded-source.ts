// Splits each global batch between ranks, either by micro-batch (rank r takes micro-batches r, r + N,
// ...) or by rows (rank r takes the r-th slice of every micro-batch). Every rank reads the whole
// stream, so the cursor (and checkpoints) agree.
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

/**
 * Rows `begin` to `end` (exclusive) of `b`: every per-token array (B·T values: ids, labels, mask,
 * positions, and whatever a loader adds such as segment ids) and every per-row array (B values) is cut.
 */
function sliceRows(b: Batch, begin: number, end: number): Batch {
  const B = b.batchSize, T = b.seqLen;
  const out: Record<string, unknown> = { ...b, batchSize: end - begin };
  for (const [k, v] of Object.entries(b)) {
    if (!ArrayBuffer.isView(v) || v instanceof DataView) continue;
    const a = v as unknown as { length: number; slice(s: number, e: number): unknown };
    // copies, not views: a loader may hand the arrays' buffers on (worker transfers)
    if (a.length === B * T) out[k] = a.slice(begin * T, end * T);
    else if (a.length === B) out[k] = a.slice(begin, end);
    else throw new Error(`rowShardedSource: batch field "${k}" has ${a.length} values, neither B·T = ${B * T} nor B = ${B}`);
  }
  return out as unknown as Batch;
}

/**
 * Wraps a source of global micro-batches so that rank r gets rows [r·B/N, (r+1)·B/N) of each (B rows,
 * N ranks; B must divide evenly). The trainer weights each rank's loss by the global target count, so
 * the summed gradients equal one rank's on the whole micro-batch.
 */
export function rowShardedSource<S extends BatchSource & { close?(): void | Promise<void> }>(source: S, ctx: DistributedContext): BatchSource & { close?(): void | Promise<void> } {
  if (ctx.worldSize === 1) return source;
  return {
    async next(): Promise<Batch | null> {
      const b = await source.next();
      if (!b) return null;
      const per = perRankBatch(b.batchSize, ctx);
      return sliceRows(b, ctx.rank * per, (ctx.rank + 1) * per);
    },
    state: () => source.state(),
    restore: (s) => source.restore(s),
    close: source.close ? () => source.close!() : undefined,
  };
}

/** Rows per rank for a global batch of `globalBatch` rows; `key` names the setting in the error. */
export function perRankBatch(globalBatch: number, ctx: DistributedContext, key = 'batch size'): number {
  if (!Number.isInteger(globalBatch) || globalBatch < 1 || globalBatch % ctx.worldSize !== 0) {
    throw new Error(`${key}=${globalBatch} is the global batch and must be divisible by the ${ctx.worldSize} ranks (each rank takes ${key} / ${ctx.worldSize} rows)`);
  }
  return globalBatch / ctx.worldSize;
}
