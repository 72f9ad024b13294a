// Reads the golden fixtures written by tools/fixtures/make_llama_golden.py and compares tensors.
import path from 'node:path';
import { Tensor, loadSafetensors } from '@stellar/tensor';

export const FIXTURES = path.join(__dirname, '..', 'fixtures');

export interface Golden {
  tensors: Map<string, Tensor>;
  config: Record<string, unknown>;
  adamw: { lr: number; betas: [number, number]; weight_decay: number; eps: number; steps: number };
}

/** Loads a fixture, refusing any other format or version than the one these tests understand. */
export function loadGolden(file: string): Golden {
  const { tensors, metadata } = loadSafetensors(path.join(FIXTURES, file));
  if (metadata.format !== 'stellar-golden' || metadata.version !== '1') {
    throw new Error(`${file}: expected format stellar-golden version 1, got ${metadata.format} ${metadata.version}`);
  }
  return { tensors, config: metadata.config ? JSON.parse(metadata.config) : {}, adamw: metadata.adamw ? JSON.parse(metadata.adamw) : null };
}

/** Tensors under `prefix.` with the prefix removed. */
export function withPrefix(m: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [n, t] of m) if (n.startsWith(prefix + '.')) out.set(n.slice(prefix.length + 1), t);
  return out;
}

/** max |a - b| and max |b|, after checking the shapes agree. */
export function maxDiff(a: Tensor, b: Tensor): { abs: number; scale: number } {
  if (!a.shapeEquals(b.shape)) throw new Error(`shape [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  const x = a.toFloat64(), y = b.toFloat64();
  let abs = 0, scale = 0;
  for (let i = 0; i < x.length; i++) { abs = Math.max(abs, Math.abs(x[i] - y[i])); scale = Math.max(scale, Math.abs(y[i])); }
  return { abs, scale };
}
