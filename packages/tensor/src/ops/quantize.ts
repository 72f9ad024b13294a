// INT8 weight-only quantization for inference: per-output-row symmetric scales (quantizeInt8) and the
// dequantizing GEMM y = x @ (scale * q)^T (matmulW8) on fp32 activations. No gradients: inference only.
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1 } from '../op';
import { args } from '../args';
import { isGradEnabled } from '../autograd';
import { numel } from '../shape';
import { contiguous } from './copy';

/** A weight W (N, K) as an int8 tensor q (N, K) and one float32 scale per row (N): W[n, k] ~= scale[n] * q[n, k]. */
export interface Int8Weight { q: Tensor; scale: Tensor }

/** Symmetric per-row quantization: scale = max|W[n, :]| / 127, q = round(W / scale) in [-127, 127]. */
export function quantizeInt8(w: Tensor): Int8Weight {
  if (w.ndim !== 2) throw new Error(`quantizeInt8: expected a 2-D weight (out, in), got shape [${w.shape.join(', ')}]`);
  if (w.dtype !== 'float32' && w.dtype !== 'bfloat16' && w.dtype !== 'float16') throw new Error(`quantizeInt8: expected a float weight, got ${w.dtype}`);
  const [N, K] = w.shape;
  const v = w.toFloat64();
  const q = new Int8Array(N * K);
  const scale = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(v[n * K + k]));
    if (!Number.isFinite(amax)) throw new Error(`quantizeInt8: row ${n} holds a non-finite value`);
    const s = Math.fround(amax / 127);
    scale[n] = s;
    if (s === 0) continue;   // an all-zero row stays zero
    for (let k = 0; k < K; k++) {
      const x = v[n * K + k] / s;
      const r = Math.min(127, Math.max(-127, Math.sign(x) * Math.round(Math.abs(x))));   // half away from zero
      q[n * K + k] = r;
    }
  }
  return {
    q: Tensor.fromArray(q, [N, K], { dtype: 'int8', device: w.device }),
    scale: Tensor.fromArray(scale, [N], { device: w.device }),
  };
}

/** The values of an int8 tensor in row-major order (`q.data()` typed as what it is). */
export function int8Values(q: Tensor): Int8Array {
  if (q.dtype !== 'int8') throw new Error(`int8Values: expected an int8 tensor, got ${q.dtype}`);
  return q.data() as Int8Array;
}

/** The float32 weight scale[n] * q[n, k] (N, K): for checks and for paths without an int8 kernel. */
export function dequantizeInt8(w: Int8Weight): Tensor {
  const [N, K] = w.q.shape;
  const q = int8Values(w.q), s = w.scale.toFloat64();
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n * K + k] = q[n * K + k] * s[n];
  return Tensor.fromArray(out, [N, K], { device: w.q.device });
}

const matmulW8Op = defineOp<Record<string, never>>({
  name: 'matmul_w8',
  outputs([x, q, scale]) {
    if (x.dtype !== 'float32') throw new Error(`matmulW8: activations must be float32, got ${x.dtype}`);
    if (q.dtype !== 'int8' || q.ndim !== 2) throw new Error(`matmulW8: q must be the (out, in) int8 tensor from quantizeInt8, got ${q.dtype} [${q.shape.join(', ')}]`);
    if (scale.dtype !== 'float32' || scale.ndim !== 1 || scale.shape[0] !== q.shape[0]) throw new Error('matmulW8: scale must be float32 (out)');
    if (x.ndim < 1 || x.shape[x.ndim - 1] !== q.shape[1]) {
      throw new Error(`matmulW8: x [${x.shape.join(', ')}] does not end in the weight's in-features ${q.shape[1]}`);
    }
    return [{ shape: [...x.shape.slice(0, -1), q.shape[0]], dtype: 'float32' }];
  },
});

registerNative('matmul_w8', 'gemm_w8', (dev, [x, q, scale], [y]) => {
  const K = q.shape[1], N = q.shape[0], M = numel(x.shape.slice(0, -1));
  if (M === 0 || N === 0) return;
  const xc = contiguous(x), qc = contiguous(q), sc = contiguous(scale);
  try {
    args.begin()
      .view(xc, [M, K], [K, 1], xc.offset)
      .tensor(qc)
      .tensor(sc)
      .view(y, [M, N], [N, 1], y.offset)
      .run(dev, 'gemm_w8');
  } finally { xc.dispose(); qc.dispose(); sc.dispose(); }
});

/** y (..., N) = x (..., K) @ (scale * q)^T with q (N, K) from quantizeInt8. Throws when x needs a gradient. */
export function matmulW8(x: Tensor, w: Int8Weight): Tensor {
  if (x.requiresGrad && isGradEnabled()) {
    throw new Error('matmulW8 is inference-only (int8 weights have no gradient): run it under noGrad() or detach the input');
  }
  return run1(matmulW8Op, [x, w.q, w.scale], {});
}
