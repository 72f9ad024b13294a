// Deterministic release of native memory: tidy-style scopes, keep(), and the GC safety net.
import type { Tensor } from './tensor';

const scopes: Set<Tensor>[] = [];

/** Called by every new Tensor: it belongs to the innermost open scope, if any. */
export function trackTensor(t: Tensor): void {
  const s = scopes[scopes.length - 1];
  if (s) s.add(t);
}

/** Removes a tensor from all open scopes so it outlives them (e.g. parameters, optimizer state). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, isTensor: (v: unknown) => v is Tensor, depth = 0): void {
  if (depth > 8 || value == null || typeof value !== 'object') return;
  if (isTensor(value)) { out.add(value); return; }
  if (Array.isArray(value)) { for (const v of value) collect(v, out, isTensor, depth + 1); return; }
  if (value instanceof Map) { for (const v of value.values()) collect(v, out, isTensor, depth + 1); return; }
  if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, isTensor, depth + 1);
}

let isTensorFn: ((v: unknown) => v is Tensor) | null = null;
export function setTensorCheck(f: (v: unknown) => v is Tensor): void { isTensorFn = f; }

/**
 * Runs fn and disposes every tensor created inside it except those it returns (in arrays, plain
 * objects or Maps) or that were `keep()`-ed. Returned tensors move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) throw new Error('tidy() does not support async functions; dispose tensors explicitly');
  const keepSet = new Set<Tensor>();
  collect(result, keepSet, isTensorFn!);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (keepSet.has(t)) { if (parent) parent.add(t); continue; }
    t.dispose();
  }
  return result;
}

/** Disposes tensors found in a value (arrays, objects, Maps). */
export function dispose(value: unknown): void {
  const set = new Set<Tensor>();
  collect(value, set, isTensorFn!);
  for (const t of set) t.dispose();
}
