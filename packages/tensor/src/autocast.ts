// Autocast (mixed precision), PyTorch-like: inside `autocast('bfloat16', fn)` matmul of two float32
// operands computes in bf16 with fp32 accumulation and returns float32; every other op is unchanged.
// The mode is a scoped, nestable flag; ops that honour it record their choice at forward time.
import type { DType } from './dtype';
import type { Tensor } from './tensor';
import { keep } from './scope';

/** Compute dtypes autocast supports (float32 / null = off). */
export type AutocastDtype = 'bfloat16' | 'float32' | null;

let current: 'bfloat16' | null = null;

/**
 * bf16 copies of graph tensors (outputs of recorded ops, which nothing may modify in place) made in
 * the current scope: one activation feeding several matmuls (x -> q, k, v; x -> gate, up) is cast and
 * saved for backward once. Leaves (weights) are not cached: an optimizer may update them in place.
 * Emptied when the scope ends; entries whose tensor was disposed are dropped as new ones arrive.
 */
const cache = new Map<Tensor, Tensor>();

function clearCache(): void {
  for (const c of cache.values()) c.dispose();
  cache.clear();
}

/** x's bf16 copy from `make`, shared within the scope when x is a graph tensor; the caller owns the result. */
export function autocastCopy(x: Tensor, make: (x: Tensor) => Tensor): Tensor {
  if (!x.gradFn || current === null) return make(x);
  let c = cache.get(x);
  if (!c) {
    for (const [k, v] of cache) if (k.disposed) { v.dispose(); cache.delete(k); }
    c = keep(make(x));   // owned by the cache, not by the caller's tidy scope
    cache.set(x, c);
  }
  return c.detach();
}

/** The dtype matmul computes in for float32 operands right now, or null when autocast is off. */
export function autocastDtype(): 'bfloat16' | null { return current; }

/**
 * Runs fn with autocast set to `dtype` ('float32' or null turn it off inside an outer scope) and
 * restores the previous mode afterwards, also when fn throws. Synchronous only: the mode is global,
 * so an async fn would leak it into unrelated work while it awaits.
 */
export function autocast<T>(dtype: AutocastDtype | DType, fn: () => T): T {
  if (dtype !== null && dtype !== 'bfloat16' && dtype !== 'float32') throw new Error(`autocast: unsupported dtype ${dtype} (use 'bfloat16', 'float32' or null)`);
  const prev = current;
  current = dtype === 'bfloat16' ? 'bfloat16' : null;
  let result: T;
  try { result = fn(); } finally {
    current = prev;
    if (prev === null) clearCache();
  }
  if (result instanceof Promise) throw new Error('autocast() does not support async functions');
  return result;
}
