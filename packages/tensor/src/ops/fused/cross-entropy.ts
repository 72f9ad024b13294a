// Fused softmax cross-entropy with integer targets, ignore_index and label smoothing (PyTorch
// semantics). The kernel streams the vocabulary in chunks with an online logsumexp, so no (N, V)
// softmax or log-softmax tensor is allocated; backward recomputes softmax from the saved logsumexp.
import { Tensor } from '../../tensor';
import { defineOp, registerNative, run1 } from '../../op';
import { args } from '../../args';
import { isIndex } from '../../dtype';
import { contiguous } from '../copy';
import { reshape } from '../views';

export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTION_CODE: Record<Reduction, number> = { none: 0, sum: 1, mean: 2 };

export interface CrossEntropyOptions {
  /** Targets equal to this contribute no loss and no gradient (default -100, as PyTorch). */
  ignoreIndex?: number;
  /** PyTorch label smoothing in [0, 1]: the target is (1 - s) onehot + s / V (default 0). */
  labelSmoothing?: number;
  /** 'mean' over non-ignored targets (default), 'sum', or 'none' (per-target losses, 0 where ignored). */
  reduction?: Reduction;
}

interface XentAttrs { reduction: number; ignoreIndex: number; smoothing: number }

const xentOp = defineOp<XentAttrs>({
  name: 'fused_cross_entropy',
  outputs([logits, targets], { reduction }) {
    if (logits.dtype !== 'float32') throw new Error(`crossEntropy: logits must be float32, got ${logits.dtype}`);
    if (!isIndex(targets.dtype)) throw new Error(`crossEntropy: targets must be int32 or int64, got ${targets.dtype}`);
    if (logits.ndim !== 2 || targets.ndim !== 1 || targets.shape[0] !== logits.shape[0]) {
      throw new Error(`crossEntropy: logits [${logits.shape.join(', ')}] and targets [${targets.shape.join(', ')}] must be (N, V) and (N)`);
    }
    return [{ shape: reduction === REDUCTION_CODE.none ? [logits.shape[0]] : [], dtype: 'float32' }];
  },
  save: { inputs: [0, 1] },
  grad(ctx, [g]) {
    if (!g || !ctx.needsGrad[0]) return [null, null];
    const logits = ctx.saved[0]!, targets = ctx.saved[1]!;
    const lse = ctx.extra![0];                                            // (N)
    const { reduction, ignoreIndex, smoothing } = ctx.attrs;
    const dlogits = Tensor.empty(logits.shape, { device: logits.device }); // (N, V)
    const lc = logits.shape[1] <= 1 || logits.strides[1] === 1 ? logits : contiguous(logits);
    try {
      args.begin().num(reduction).num(ignoreIndex).num(smoothing).tensor(lc).tensor(targets).tensor(lse).tensor(g).tensor(dlogits)
        .run(logits.device, 'fused_cross_entropy_backward');
    } catch (e) { dlogits.dispose(); throw e; } finally { if (lc !== logits) lc.dispose(); }
    return [dlogits, null];
  },
});
registerNative<XentAttrs>('fused_cross_entropy', 'fused_cross_entropy', (dev, [logits, targets], [out], { reduction, ignoreIndex, smoothing }) => {
  const lse = Tensor.empty([logits.shape[0]], { device: dev });   // (N)
  const lc = logits.shape[1] <= 1 || logits.strides[1] === 1 ? logits : contiguous(logits);
  try {
    args.begin().num(reduction).num(ignoreIndex).num(smoothing).tensor(lc).tensor(targets).tensor(lse).tensor(out)
      .run(dev, 'fused_cross_entropy');
  } catch (e) { lse.dispose(); throw e; } finally { if (lc !== logits) lc.dispose(); }
  return [lse];
});

/**
 * Cross-entropy of logits (N, V) or (B, T, V) against integer targets (N) or (B, T).
 *
 * With reduction 'mean' the sum is divided by the number of non-ignored targets. When every target
 * is ignored PyTorch returns NaN (0/0); this returns 0 with a zero gradient instead, which is what a
 * training loop wants for a fully masked micro-batch (no NaN guard trips, nothing is learned).
 * An out-of-range target that is not ignoreIndex throws.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  if (!(reduction in REDUCTION_CODE)) throw new Error(`crossEntropy: unknown reduction "${reduction}"`);
  const smoothing = opts.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  const ignoreIndex = opts.ignoreIndex ?? -100;
  if (!Number.isSafeInteger(ignoreIndex)) throw new Error(`crossEntropy: ignoreIndex must be an integer, got ${ignoreIndex}`);
  if (logits.ndim < 2) throw new Error(`crossEntropy: logits must be (N, V) or (B, T, V), got [${logits.shape.join(', ')}]`);
  const V = logits.shape[logits.ndim - 1];
  const lead = logits.shape.slice(0, -1);
  if (targets.shape.length !== lead.length || targets.shape.some((d, i) => d !== lead[i])) {
    throw new Error(`crossEntropy: targets [${targets.shape.join(', ')}] must match the logits' leading dims [${lead.join(', ')}]`);
  }
  const N = targets.size;
  const l2 = logits.ndim === 2 ? logits : reshape(logits, [N, V]);   // (N, V)
  const t1 = targets.ndim === 1 ? targets : reshape(targets, [N]);   // (N)
  try {
    const loss = run1(xentOp, [l2, t1], { reduction: REDUCTION_CODE[reduction], ignoreIndex, smoothing });
    if (reduction !== 'none' || lead.length === 1) return loss;
    try { return reshape(loss, lead); } finally { loss.dispose(); }
  } finally {
    if (l2 !== logits) l2.dispose();
    if (t1 !== targets) t1.dispose();
  }
}
