// Weight-only INT8 quantization of a model for inference: every Linear (LoRA merged first) computes
// x @ (scale * q)^T through @stellar/tensor's matmulW8 instead of its float32 weight. Parameter names
// and the float32 weights stay as they were (savePretrained writes the float weights, not int8).
import { dispose, quantizeInt8, noGrad, DTYPE_SIZE } from '@stellar/tensor';
import { Module } from './module';
import { Linear } from './layers/linear';

export interface QuantizeOptions {
  mode: 'int8';
  /** Layers left in float32: a module path ('lm_head', 'model.layers.0.mlp.down_proj'), a path prefix ending in '.', or a RegExp. */
  exclude?: (string | RegExp)[];
}

export interface QuantizeReport {
  /** Module paths of the layers now running in int8. */
  quantized: string[];
  /** Linear layers left in float32 by `exclude`. */
  excluded: string[];
  /** Bytes of the float32 weights replaced and of their int8 copies (+ scales). */
  floatBytes: number;
  int8Bytes: number;
}

function excluded(path: string, rules: (string | RegExp)[]): boolean {
  return rules.some((r) => (typeof r === 'string' ? path === r || (r.endsWith('.') && path.startsWith(r)) : r.test(path)));
}

/** An active (unmerged) LoRA adapter exposes merge(); anything else attached is not ours to fold in. */
function mergeAdapter(path: string, l: Linear): void {
  const a = l.adapter as (Linear['adapter'] & { merge?: () => void }) | null;
  if (!a || !a.active) return;
  if (typeof a.merge !== 'function') throw new Error(`quantizeModel: ${path} has an adapter that cannot be merged into the weight`);
  a.merge();
}

/** Switches every Linear (except `exclude`) to int8 weights with per-output-row scales. */
export function quantizeModel(model: Module, opts: QuantizeOptions): QuantizeReport {
  if ((opts as { mode?: unknown }).mode !== 'int8') throw new Error(`quantizeModel: unsupported mode ${JSON.stringify((opts as { mode?: unknown }).mode)} (only 'int8')`);
  const rules = opts.exclude ?? [];
  const report: QuantizeReport = { quantized: [], excluded: [], floatBytes: 0, int8Bytes: 0 };
  const linears = [...model.namedModules()].filter((e): e is [string, Linear] => e[1] instanceof Linear);
  if (linears.some(([, l]) => l.int8)) throw new Error('quantizeModel: the model is already quantized');
  for (const [path, l] of linears) {
    if (excluded(path, rules)) { report.excluded.push(path); continue; }
    mergeAdapter(path, l);
    const w = noGrad(() => quantizeInt8(l.weight.data));
    l.setInt8(w);
    report.quantized.push(path);
    report.floatBytes += l.weight.data.size * 4;
    report.int8Bytes += w.q.size * DTYPE_SIZE[w.q.dtype] + w.scale.size * DTYPE_SIZE[w.scale.dtype];
  }
  return report;
}

/** True when at least one Linear of the model runs in int8. */
export function isQuantized(model: Module): boolean {
  for (const [, m] of model.namedModules()) if (m instanceof Linear && m.int8) return true;
  return false;
}

/**
 * Back to the float32 weights (the ones kept at quantization: exact, not a dequantized copy).
 * A merged LoRA stays merged. Throws when nothing is quantized.
 */
export function dequantizeModel(model: Module): void {
  if (!isQuantized(model)) throw new Error('dequantizeModel: the model has no int8 layers');
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof Linear) || !m.int8) continue;
    const w = m.int8;
    m.setInt8(null);
    dispose([w.q, w.scale]);
  }
}
