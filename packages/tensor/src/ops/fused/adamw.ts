// Multi-tensor AdamW step (PyTorch torch.optim.AdamW semantics) as one native call that updates every
// parameter and its moment buffers in place. Not an autograd op: it runs on leaves, outside the graph.
import type { Tensor } from '../../tensor';
import { args } from '../../args';
import { hasKernel } from '@stellar/native';

export interface AdamWStepOptions {
  lr: number;
  beta1?: number;          // default 0.9
  beta2?: number;          // default 0.999
  eps?: number;            // default 1e-8
  /** Decoupled decay p -= lr * wd * p; one value for all tensors or one per tensor (0 skips norms/biases). */
  weightDecay?: number | number[];   // default 0.01, as torch.optim.AdamW
  /** 1-based step count used for bias correction. */
  step: number;
  /** Ascend the objective instead (PyTorch `maximize`). */
  maximize?: boolean;
}

function requireDense(t: Tensor, what: string, i: number, ref: Tensor): void {
  if (t.disposed) throw new Error(`adamwStep: ${what}[${i}] was disposed`);
  if (t.dtype !== 'float32') throw new Error(`adamwStep: ${what}[${i}] must be float32, got ${t.dtype}`);
  if (!t.isContiguous) throw new Error(`adamwStep: ${what}[${i}] must be contiguous (shape [${t.shape.join(', ')}], strides [${t.strides.join(', ')}])`);
  if (t.size !== ref.size) throw new Error(`adamwStep: ${what}[${i}] has ${t.size} elements but params[${i}] has ${ref.size}`);
  if (t.device !== ref.device) throw new Error(`adamwStep: ${what}[${i}] is on ${t.device} but params[${i}] is on ${ref.device}`);
}

/**
 * One AdamW update of every params[i] from grads[i], updating expAvg[i] / expAvgSq[i] in place:
 *   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
 * Grads are only read. All tensors must be contiguous float32 on one device.
 */
export function adamwStep(params: Tensor[], grads: Tensor[], expAvg: Tensor[], expAvgSq: Tensor[], opts: AdamWStepOptions): void {
  const n = params.length;
  if (grads.length !== n || expAvg.length !== n || expAvgSq.length !== n) {
    throw new Error(`adamwStep: ${n} params but ${grads.length} grads, ${expAvg.length} expAvg, ${expAvgSq.length} expAvgSq`);
  }
  if (n === 0) return;
  const { lr, step } = opts;
  const beta1 = opts.beta1 ?? 0.9, beta2 = opts.beta2 ?? 0.999, eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? 0.01;
  if (Array.isArray(wd) && wd.length !== n) throw new Error(`adamwStep: ${wd.length} weightDecay values for ${n} params`);
  if (!Number.isInteger(step) || step < 1) throw new Error(`adamwStep: step must be an integer >= 1, got ${step}`);
  if (!(lr >= 0)) throw new Error(`adamwStep: lr must be >= 0, got ${lr}`);
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) throw new Error(`adamwStep: betas must be in [0, 1), got ${beta1}, ${beta2}`);
  if (!(eps >= 0)) throw new Error(`adamwStep: eps must be >= 0, got ${eps}`);
  const device = params[0].device;
  for (let i = 0; i < n; i++) {
    const p = params[i];
    requireDense(p, 'params', i, p);
    requireDense(grads[i], 'grads', i, p);
    requireDense(expAvg[i], 'expAvg', i, p);
    requireDense(expAvgSq[i], 'expAvgSq', i, p);
    if (p.device !== device) throw new Error(`adamwStep: params are on different devices (${device} and ${p.device})`);
  }
  if (!hasKernel(`${device}/fused_adamw`)) throw new Error(`adamwStep: no fused_adamw kernel for device "${device}"`);
  const b = args.begin().num(lr).num(beta1).num(beta2).num(eps).num(step).bool(!!opts.maximize).num(n);
  for (let i = 0; i < n; i++) {
    b.num(Array.isArray(wd) ? wd[i] : wd).tensor(params[i]).tensor(grads[i]).tensor(expAvg[i]).tensor(expAvgSq[i]);
  }
  b.run(device, 'fused_adamw');
}
