// AdamW (torch.optim.AdamW semantics, decoupled weight decay) on the fused multi-tensor kernel, with
// weight decay only on the tensors the decay rule selects (matrices, not norms/biases/embeddings).
import { Tensor, adamwStep, contiguous, copyInto, zerosLike, keep, tidy } from '@stellar/tensor';
import type { Parameter } from '@stellar/nn';
import { decays } from './param-groups';
import { restoreBuffers, type Optimizer, type OptimizerState } from './optimizer';

export interface AdamWOptions {
  lr?: number;            // 1e-3
  beta1?: number;         // 0.9
  beta2?: number;         // 0.999
  eps?: number;           // 1e-8
  weightDecay?: number;   // 0.01 (torch's default), applied where `decay` says
  /** Which parameters decay; default: >= 2-D and not an embedding. Pass () => true for torch's all-parameters default. */
  decay?: (name: string, p: Parameter) => boolean;
}

export class AdamW implements Optimizer {
  lr: number;
  stepCount = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly names: string[] = [];
  private readonly params: Parameter[] = [];
  private readonly wd: number[] = [];
  private readonly m: Tensor[] = [];
  private readonly v: Tensor[] = [];

  /** `params`: [name, Parameter] pairs, e.g. `model.namedParameters()`; frozen ones (requiresGrad false) are skipped. */
  constructor(params: Iterable<[string, Parameter]>, opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    const rule = opts.decay ?? decays;
    for (const [name, p] of params) {
      if (!p.data.requiresGrad) continue;
      this.names.push(name);
      this.params.push(p);
      this.wd.push(rule(name, p) ? this.weightDecay : 0);
      this.m.push(keep(zerosLike(p.data)));
      this.v.push(keep(zerosLike(p.data)));
    }
  }

  /** Names of the parameters that decay (for logs and tests). */
  decayed(): string[] { return this.names.filter((_, i) => this.wd[i] > 0); }

  step(): void {
    const idx = this.params.map((_, i) => i).filter((i) => this.params[i].grad);
    if (idx.length === 0) return;
    this.stepCount++;
    tidy(() => {
      const grads = idx.map((i) => { const g = this.params[i].grad!; return g.isContiguous ? g : contiguous(g); });
      adamwStep(idx.map((i) => this.params[i].data), grads, idx.map((i) => this.m[i]), idx.map((i) => this.v[i]), {
        lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: idx.map((i) => this.wd[i]), step: this.stepCount,
      });
    });
  }

  state(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    this.names.forEach((n, i) => { tensors.set(`${n}.exp_avg`, this.m[i]); tensors.set(`${n}.exp_avg_sq`, this.v[i]); });
    return { tensors, meta: { type: 'adamw', step: this.stepCount, lr: this.lr } };
  }

  loadState(s: OptimizerState): void {
    if (s.meta.type !== 'adamw') throw new Error(`AdamW.loadState: state is for ${JSON.stringify(s.meta.type)}`);
    restoreBuffers('AdamW', this.state().tensors, s.tensors, copyInto);
    this.stepCount = Number(s.meta.step);
    this.lr = Number(s.meta.lr);
  }

  dispose(): void { for (const t of [...this.m, ...this.v]) t.dispose(); }
}
