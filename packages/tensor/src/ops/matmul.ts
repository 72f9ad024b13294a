// Matrix multiplication with batch broadcasting through the BLAS GEMM kernel. Batched operands
// are folded into one big GEMM when their layout allows (e.g. (B, T, C) @ (C, N) is one
// (B*T, C) @ (C, N) call); bf16 x bf16 accumulates in fp32 and returns float32.
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1 } from '../op';
import { args } from '../args';
import { broadcastShapes, broadcastStrides, numel } from '../shape';
import { contiguous } from './copy';
import { transpose, reshape } from './views';
import { sumTo } from './binary';

const matmulOp = defineOp<Record<string, never>>({
  name: 'matmul',
  outputs([a, b]) {
    if (a.ndim < 1 || b.ndim < 1) throw new Error('matmul: scalars are not matrices');
    if (a.ndim < 2 || b.ndim < 2) throw new Error('matmul: operands must be at least 2-D (use unsqueeze for vectors)');
    const ok = (a.dtype === 'float32' && b.dtype === 'float32') || (a.dtype === 'bfloat16' && b.dtype === 'bfloat16');
    if (!ok) throw new Error(`matmul: operands must both be float32 or both bfloat16 (got ${a.dtype} and ${b.dtype})`);
    const [M, K] = a.shape.slice(-2);
    const [K2, N] = b.shape.slice(-2);
    if (K !== K2) throw new Error(`matmul: inner dimensions differ: [${a.shape.join(', ')}] @ [${b.shape.join(', ')}]`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ shape: [...batch, M, N], dtype: 'float32' }];
  },
  save: { inputs: [0, 1] },
  grad(ctx, [g]) {
    if (!g) return [null, null];
    const [a, b] = ctx.saved as Tensor[];
    const out: (Tensor | null)[] = [null, null];
    if (ctx.needsGrad[0]) {
      const bt = transpose(b);                     // (.., N, K)
      const ga = matmul(g, bt.dtype === g.dtype ? bt : bt.cast(g.dtype));
      out[0] = sumTo(ga, ctx.inputMeta[0].shape);
      ga.dispose(); bt.dispose();
    }
    if (ctx.needsGrad[1]) {
      if (b.ndim === 2) {
        // dB = A_flat^T @ G_flat: one GEMM over all batch rows instead of a batched GEMM plus a sum
        const af = reshape(a, [-1, a.shape[a.ndim - 1]]);   // (rows, K)
        const gf = reshape(g, [-1, g.shape[g.ndim - 1]]);   // (rows, N)
        const afc = af.dtype === gf.dtype ? af : af.cast(gf.dtype);
        if (isColumnMajor(b)) {
          // B is a transposed view (x @ W^T): compute dB^T = G^T A as a contiguous (N, K) buffer so
          // the gradient reaching W through the transpose is contiguous and is adopted without a copy
          const gt = transpose(gf);
          const dbt = matmul(gt, afc);                          // (N, K)
          out[1] = transpose(dbt);                              // (K, N) view
          gt.dispose(); dbt.dispose();
        } else {
          const at = transpose(afc);
          out[1] = matmul(at, gf);                              // (K, N)
          at.dispose();
        }
        if (afc !== af) afc.dispose();
        af.dispose(); gf.dispose();
      } else {
        const at = transpose(a);
        const gb = matmul(at.dtype === g.dtype ? at : at.cast(g.dtype), g);
        out[1] = sumTo(gb, ctx.inputMeta[1].shape);
        gb.dispose(); at.dispose();
      }
    }
    // Gradients of bf16 inputs are returned in bf16 like the inputs.
    for (let i = 0; i < 2; i++) {
      const t = out[i];
      if (t && ctx.inputMeta[i].dtype !== 'float32') { out[i] = t.cast(ctx.inputMeta[i].dtype); t.dispose(); }
    }
    return out;
  },
});

/** A 2-D matrix stored column by column (a transposed view of a row-major one). */
function isColumnMajor(t: Tensor): boolean {
  return t.ndim === 2 && t.strides[0] === 1 && t.strides[1] === t.shape[0] && t.shape[0] > 1 && t.shape[1] > 1;
}

/** True when the matrix (last two dims) can be handed to BLAS as is (one unit stride). */
function blasOk(shape: number[], strides: number[]): boolean {
  const n = shape.length;
  return strides[n - 1] === 1 || strides[n - 2] === 1 || shape[n - 1] === 1 || shape[n - 2] === 1;
}

/** Merges batch dims into one when their strides allow; null otherwise. */
function flattenBatch(shape: number[], strides: number[]): { n: number; stride: number } | null {
  const nb = shape.length - 2;
  let n = 1;
  let stride = 0;
  let first = true;
  for (let i = nb - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (first) { stride = strides[i]; first = false; }
    else if (strides[i] !== stride * n) return null;
    n *= shape[i];
  }
  return { n, stride };
}

registerNative<Record<string, never>>('matmul', 'gemm', (dev, [a0, b0], [y]) => {
  const batch = y.shape.slice(0, -2);
  const [M, N] = y.shape.slice(-2);
  const K = a0.shape[a0.ndim - 1];
  const temps: Tensor[] = [];
  const prep = (t: Tensor) => {
    if (blasOk(t.shape, t.strides)) return t;
    const c = contiguous(t); temps.push(c); return c;
  };
  try {
    let a = prep(a0), b = prep(b0);
    const ash = [...batch, M, K], bsh = [...batch, K, N];
    let ast = broadcastStrides(a.shape, a.strides, ash), bst = broadcastStrides(b.shape, b.strides, bsh);
    // Fold (batch, M) of A into one M dim when B is shared by all batches and A's rows are uniform.
    const bShared = bst.slice(0, -2).every((s, i) => s === 0 || batch[i] === 1);
    if (batch.length > 0 && bShared && ast[ast.length - 1] === 1) {
      const rows = { shape: [...batch, M], strides: ast.slice(0, -1) };
      const fb = flattenBatch([...rows.shape, 1], [...rows.strides, 1]);
      const nRows = numel(batch) * M;
      if (fb && (fb.n === nRows || nRows === 0)) {
        args.begin().num(1).num(0)
          .view(a, [1, nRows, K], [0, fb.stride, 1], a.offset)
          .view(b, [1, K, N], [0, bst[bst.length - 2], bst[bst.length - 1]], b.offset)
          .view(y, [1, nRows, N], [0, N, 1], y.offset)
          .run(dev, 'gemm');
        return;
      }
    }
    let fa = flattenBatch(ash, ast), fb = flattenBatch(bsh, bst);
    if (!fa) { a = contiguous(a.expand(ash)); temps.push(a); ast = a.strides; fa = flattenBatch(ash, ast)!; }
    if (!fb) { b = contiguous(b.expand(bsh)); temps.push(b); bst = b.strides; fb = flattenBatch(bsh, bst)!; }
    const nb = numel(batch);
    args.begin().num(1).num(0)
      .view(a, [nb, M, K], [fa.n === 1 ? 0 : fa.stride, ast[ast.length - 2], ast[ast.length - 1]], a.offset)
      .view(b, [nb, K, N], [fb.n === 1 ? 0 : fb.stride, bst[bst.length - 2], bst[bst.length - 1]], b.offset)
      .view(y, [nb, M, N], [M * N, N, 1], y.offset)
      .run(dev, 'gemm');
  } finally {
    for (const t of temps) t.dispose();
  }
});

/** a @ b with batch broadcasting; bf16 @ bf16 returns float32 (fp32 accumulation). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return run1(matmulOp, [a, b], {});
}
