// Matrix multiplication with batch broadcasting through the BLAS GEMM kernel. Batched operands
// are folded into one big GEMM when their layout allows (e.g. (B, T, C) @ (C, N) is one
// (B*T, C) @ (C, N) call); bf16 x bf16 accumulates in fp32 and returns float32. Under
// autocast('bfloat16') float32 x float32 runs as bf16 x bf16 (forward and backward GEMMs), saving
// the bf16 copies for backward and returning float32 values and gradients.
import { Tensor } from '../tensor';
import { defineOp, registerNative, run1, type GradCtx, type OutSpec } from '../op';
import { args } from '../args';
import { broadcastShapes, broadcastStrides, numel } from '../shape';
import { noGrad } from '../autograd';
import { autocastDtype, autocastCopy } from '../autocast';
import { contiguous, cast } from './copy';
import { transpose, reshape } from './views';
import { sumTo } from './binary';

function outputSpec(a: Tensor, b: Tensor): OutSpec[] {
  if (a.ndim < 1 || b.ndim < 1) throw new Error('matmul: scalars are not matrices');
  if (a.ndim < 2 || b.ndim < 2) throw new Error('matmul: operands must be at least 2-D (use unsqueeze for vectors)');
  const ok = (a.dtype === 'float32' && b.dtype === 'float32') || (a.dtype === 'bfloat16' && b.dtype === 'bfloat16');
  if (!ok) throw new Error(`matmul: operands must both be float32 or both bfloat16 (got ${a.dtype} and ${b.dtype})`);
  const [M, K] = a.shape.slice(-2);
  const [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new Error(`matmul: inner dimensions differ: [${a.shape.join(', ')}] @ [${b.shape.join(', ')}]`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return [{ shape: [...batch, M, N], dtype: 'float32' }];
}

/** The GEMM without autocast (backward GEMMs must not be re-routed by an enclosing autocast scope). */
const mm = (a: Tensor, b: Tensor): Tensor => run1(matmulOp, [a, b], {});

/** Casts y to g's dtype when they differ; `temps` collects what the caller disposes. */
function like(y: Tensor, g: Tensor, temps: Tensor[]): Tensor {
  if (y.dtype === g.dtype) return y;
  const c = y.cast(g.dtype); temps.push(c); return c;
}

/**
 * dA = G B^T and dB = A^T G (summed to the input shapes). G (.., M, N), A (.., M, K), B (.., K, N);
 * A and B are cast to G's dtype when they differ. `meta` holds the shapes of the op's inputs.
 */
function matmulGrad(a: Tensor, b: Tensor, g: Tensor, needsGrad: boolean[], meta: GradCtx<unknown>['inputMeta'], bColumnMajor: boolean): (Tensor | null)[] {
  const out: (Tensor | null)[] = [null, null];
  const temps: Tensor[] = [];
  try {
    if (needsGrad[0]) {
      const bt = transpose(b);                     // (.., N, K)
      temps.push(bt);
      const ga = mm(g, like(bt, g, temps));        // (.., M, K)
      out[0] = sumTo(ga, meta[0].shape);
      ga.dispose();
    }
    if (needsGrad[1]) {
      if (meta[1].shape.length === 2) {
        // dB = A_flat^T @ G_flat: one GEMM over all batch rows instead of a batched GEMM plus a sum
        const af = reshape(a, [-1, a.shape[a.ndim - 1]]);   // (rows, K)
        const gf = reshape(g, [-1, g.shape[g.ndim - 1]]);   // (rows, N)
        temps.push(af, gf);
        const afc = like(af, gf, temps);
        if (bColumnMajor) {
          // B is a transposed view (x @ W^T): compute dB^T = G^T A as a contiguous (N, K) buffer so
          // the gradient reaching W through the transpose is contiguous and is adopted without a copy
          const gt = transpose(gf);
          const dbt = mm(gt, afc);                              // (N, K)
          out[1] = transpose(dbt);                              // (K, N) view
          gt.dispose(); dbt.dispose();
        } else {
          const at = transpose(afc);
          out[1] = mm(at, gf);                                  // (K, N)
          at.dispose();
        }
      } else {
        const at = transpose(a);
        temps.push(at);
        const gb = mm(like(at, g, temps), g);
        out[1] = sumTo(gb, meta[1].shape);
        gb.dispose();
      }
    }
  } finally {
    for (const t of temps) t.dispose();
  }
  // Gradients of bf16 inputs are returned in bf16 like the inputs.
  for (let i = 0; i < 2; i++) {
    const t = out[i];
    if (t && meta[i].dtype !== 'float32') { out[i] = t.cast(meta[i].dtype); t.dispose(); }
  }
  return out;
}

const matmulOp = defineOp<Record<string, never>>({
  name: 'matmul',
  outputs([a, b]) { return outputSpec(a, b); },
  save: { inputs: [0, 1] },
  grad(ctx, [g]) {
    if (!g) return [null, null];
    const [a, b] = ctx.saved as Tensor[];
    return matmulGrad(a, b, g, ctx.needsGrad, ctx.inputMeta, isColumnMajor(b));
  },
});

/** G in bf16 (named so profiles can tell this cast from other copies). */
function gradToBf16(g: Tensor): Tensor { return cast(g, 'bfloat16'); }

/** Which bf16 operand copies the autocast kernel hands to backward (dA needs B, dB needs A). */
interface AutocastAttrs { keepA: boolean; keepB: boolean; bColumnMajor: boolean }

/**
 * float32 x float32 under autocast('bfloat16'): the kernel casts both operands to bf16 and runs the
 * bf16 GEMM. Backward reads the bf16 copies (returned by the kernel, not the float32 inputs: half
 * the activation memory, and weights are not cast a second time) and casts G to bf16 once.
 */
const matmulAutocastOp = defineOp<AutocastAttrs>({
  name: 'matmul_autocast_bf16',
  outputs([a, b]) { return outputSpec(a, b); },
  grad(ctx, [g]) {
    if (!g) return [null, null];
    const extra = ctx.extra ?? [];
    let i = 0;
    const a16 = ctx.attrs.keepA ? extra[i++] : null;   // (.., M, K) bf16
    const b16 = ctx.attrs.keepB ? extra[i++] : null;   // (.., K, N) bf16
    const needs = [ctx.needsGrad[0] && !!b16, ctx.needsGrad[1] && !!a16];
    const g16 = gradToBf16(g);                          // (.., M, N), the one cast of the gradient
    try {
      // a missing copy belongs to an input that needs no gradient: its slot is never read
      return matmulGrad(a16 ?? b16!, b16 ?? a16!, g16, needs, ctx.inputMeta, ctx.attrs.bColumnMajor);
    } finally {
      g16.dispose();
    }
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

/** y = a0 @ b0 through the native GEMM (float32 x float32 or bf16 x bf16, float32 y). */
function gemmInto(dev: Tensor['device'], a0: Tensor, b0: Tensor, y: Tensor): void {
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
}

registerNative<Record<string, never>>('matmul', 'gemm', (dev, [a, b], [y]) => gemmInto(dev, a, b, y));

/**
 * x in bf16. A transposed matrix (the x @ W^T weight view) is cast as the row-major matrix under
 * it and transposed back: a linear pass instead of a transposing copy, and the copy stays column
 * major for the dB fast path.
 */
function toBf16(x: Tensor): Tensor {
  if (!isColumnMajor(x)) return cast(x, 'bfloat16');
  const t = transpose(x);                 // row-major (N, K)
  const c = cast(t, 'bfloat16');
  t.dispose();
  try { return transpose(c); } finally { c.dispose(); }
}

registerNative<AutocastAttrs>('matmul_autocast_bf16', 'gemm', (dev, [a, b], [y], attrs) => {
  // the copies are plain data (no graph): this op's own node routes gradients to the float32 inputs
  const a16 = noGrad(() => autocastCopy(a, toBf16)), b16 = noGrad(() => autocastCopy(b, toBf16));
  try {
    gemmInto(dev, a16, b16, y);
  } catch (e) {
    a16.dispose(); b16.dispose();
    throw e;
  }
  const keep: Tensor[] = [];
  if (attrs.keepA) keep.push(a16); else a16.dispose();
  if (attrs.keepB) keep.push(b16); else b16.dispose();
  return keep;
});

/**
 * a @ b with batch broadcasting; bf16 @ bf16 returns float32 (fp32 accumulation). Inside
 * autocast('bfloat16') float32 @ float32 computes as bf16 @ bf16 too (see the autocast op above).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.dtype === 'float32' && b.dtype === 'float32' && autocastDtype() === 'bfloat16') {
    // dA = G B^T needs B's copy only when A needs a gradient, and dB = A^T G needs A's only for B
    return run1(matmulAutocastOp, [a, b], { keepA: b.requiresGrad, keepB: a.requiresGrad, bColumnMajor: isColumnMajor(b) });
  }
  return run1(matmulOp, [a, b], {});
}
