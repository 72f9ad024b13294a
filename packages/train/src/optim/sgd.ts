// SGD with momentum (torch.optim.SGD semantics: L2 weight decay added to the gradient, dampening,
// optional Nesterov; the first step initialises the buffer with the gradient).
import { Tensor, add, copyInto, keep, mul, noGrad, tidy, zerosLike } from '@stellar/tensor';
import type { Parameter } from '@stellar/nn';
import { decays } from './param-groups';
import { restoreBuffers, type Optimizer, type OptimizerState } from './optimizer';

export interface SGDOptions {
  lr?: number;          // 0.01
  momentum?: number;    // 0
  dampening?: number;   // 0
  nesterov?: boolean;   // false
  weightDecay?: number; // 0, where `decay` says
  decay?: (name: string, p: Parameter) => boolean;
}

export class SGD implements Optimizer {
  lr: number;
  stepCount = 0;
  private readonly names: string[] = [];
  private readonly params: Parameter[] = [];
  private readonly wd: number[] = [];
  private readonly bufs: Tensor[] = [];

  constructor(params: Iterable<[string, Parameter]>, private readonly o: SGDOptions = {}) {
    this.lr = o.lr ?? 0.01;
    if (o.nesterov && !((o.momentum ?? 0) > 0 && (o.dampening ?? 0) === 0)) throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
    const rule = o.decay ?? decays;
    for (const [name, p] of params) {
      if (!p.data.requiresGrad) continue;
      this.names.push(name); this.params.push(p);
      this.wd.push(rule(name, p) ? o.weightDecay ?? 0 : 0);
      this.bufs.push(keep(zerosLike(p.data)));
    }
  }

  step(): void {
    const mom = this.o.momentum ?? 0, damp = this.o.dampening ?? 0;
    const first = this.stepCount === 0;
    let any = false;
    noGrad(() => this.params.forEach((p, i) => {
      if (!p.grad) return;
      any = true;
      tidy(() => {
        let d = this.wd[i] ? add(p.grad!, mul(p.data, this.wd[i])) : p.grad!;
        if (mom > 0) {
          const buf = this.bufs[i];
          copyInto(buf, first ? d : add(mul(buf, mom), mul(d, 1 - damp)));
          d = this.o.nesterov ? add(d, mul(buf, mom)) : buf;
        }
        copyInto(p.data, add(p.data, mul(d, -this.lr)));
      });
    }));
    if (any) this.stepCount++;
  }

  state(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    this.names.forEach((n, i) => tensors.set(`${n}.momentum_buffer`, this.bufs[i]));
    return { tensors, meta: { type: 'sgd', step: this.stepCount, lr: this.lr } };
  }

  loadState(s: OptimizerState): void {
    if (s.meta.type !== 'sgd') throw new Error(`SGD.loadState: state is for ${JSON.stringify(s.meta.type)}`);
    restoreBuffers('SGD', this.state().tensors, s.tensors, copyInto);
    this.stepCount = Number(s.meta.step);
    this.lr = Number(s.meta.lr);
  }

  dispose(): void { for (const b of this.bufs) b.dispose(); }
}
