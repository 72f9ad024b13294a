// Work only the main rank does (resolving a run directory, preparing data, training a tokenizer)
// while the other ranks wait for its result, or for its failure so that they stop too.
import type { DistributedContext } from './context';
import { broadcastJson } from './mpi';

/** What the other ranks throw when the main rank's work failed (the main rank reports the error itself). */
export class MainRankFailed extends Error {
  constructor(message: string) {
    super(`rank 0 failed: ${message}`);
    this.name = 'MainRankFailed';
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

function share<T>(ctx: DistributedContext, outcome: Outcome<T> | undefined, mainError: unknown): T {
  const got = broadcastJson(outcome, 0);
  if (got.ok) return got.value;
  if (ctx.isMain) throw mainError;
  throw new MainRankFailed(got.error);
}

/**
 * Runs `fn` on rank 0 only and returns its (JSON-serialisable) result on every rank; when `fn` throws,
 * rank 0 rethrows the error and the others throw MainRankFailed. Every rank must call it.
 */
export async function onMain<T>(ctx: DistributedContext, fn: () => T | Promise<T>): Promise<T> {
  if (ctx.worldSize === 1) return fn();
  let outcome: Outcome<T> | undefined, mainError: unknown;
  if (ctx.isMain) {
    try { outcome = { ok: true, value: await fn() }; } catch (e) { mainError = e; outcome = { ok: false, error: (e as Error).message }; }
  }
  return share(ctx, outcome, mainError);
}

/** onMain for synchronous work. */
export function onMainSync<T>(ctx: DistributedContext, fn: () => T): T {
  if (ctx.worldSize === 1) return fn();
  let outcome: Outcome<T> | undefined, mainError: unknown;
  if (ctx.isMain) {
    try { outcome = { ok: true, value: fn() }; } catch (e) { mainError = e; outcome = { ok: false, error: (e as Error).message }; }
  }
  return share(ctx, outcome, mainError);
}
