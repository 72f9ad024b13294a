// Muon (torch.optim.Muon semantics): momentum, then Newton–Schulz orthogonalization of the update for
// the 2-D hidden weight matrices; embeddings, the output head and every non-matrix go to AdamW.
import { Tensor, add, copyInto, keep, mul, noGrad, tidy, zerosLike } from '@stellar/tensor';
import type { Parameter } from '@stellar/nn';
import { AdamW, type AdamWOptions } from './adamw';
import { newtonSchulz, NS_COEFFICIENTS } from './newton-schulz';
import { restoreBuffers, type Optimizer, type OptimizerState } from './optimizer';

export interface MuonOptions {
  lr?: number;           // 0.02 for the matrices
  momentum?: number;     // 0.95
  nesterov?: boolean;    // true
  weightDecay?: number;  // 0.1 (decoupled: p *= 1 - lr * wd)
  nsSteps?: number;      // 5
  nsCoefficients?: [number, number, number];
  /** 'original': lr * sqrt(max(1, rows/cols)); 'match_rms_adamw': lr * 0.2 * sqrt(max(rows, cols)). */
  adjustLr?: 'original' | 'match_rms_adamw';
  /** The AdamW that updates everything else (its lr scales with Muon's when a schedule changes lr). */
  adamw?: AdamWOptions;
  /** Which parameters Muon takes; default: 2-D and not an embedding or output head. */
  useMuon?: (name: string, p: Parameter) => boolean;
}

export function defaultMuonRule(name: string, p: Parameter): boolean {
  return p.shape.length === 2 && !/(^|\.)(embed_tokens|wte|wpe|embeddings?|lm_head|score|v_head)(\.|$)/.test(name);
}

export class Muon implements Optimizer {
  stepCount = 0;
  private _lr: number;
  private readonly adamwRatio: number;
  readonly inner: AdamW;
  private readonly names: string[] = [];
  private readonly params: Parameter[] = [];
  private readonly bufs: Tensor[] = [];

  constructor(params: Iterable<[string, Parameter]>, private readonly o: MuonOptions = {}) {
    this._lr = o.lr ?? 0.02;
    const rule = o.useMuon ?? defaultMuonRule;
    const rest: [string, Parameter][] = [];
    for (const [name, p] of params) {
      if (!p.data.requiresGrad) continue;
      if (rule(name, p)) {
        if (p.shape.length !== 2) throw new Error(`Muon: ${name} is [${p.shape.join(', ')}]; Muon only updates 2-D matrices`);
        this.names.push(name); this.params.push(p); this.bufs.push(keep(zerosLike(p.data)));
      } else rest.push([name, p]);
    }
    this.inner = new AdamW(rest, o.adamw);
    this.adamwRatio = this.inner.lr / this._lr;
  }

  get lr(): number { return this._lr; }
  set lr(v: number) { this._lr = v; this.inner.lr = v * this.adamwRatio; }

  /** Parameters updated by Muon (the rest go to `inner`). */
  muonParameters(): string[] { return [...this.names]; }

  step(): void {
    const momentum = this.o.momentum ?? 0.95, nesterov = this.o.nesterov ?? true, wd = this.o.weightDecay ?? 0.1;
    let any = false;
    noGrad(() => this.params.forEach((p, i) => {
      const g = p.grad;
      if (!g) return;
      any = true;
      tidy(() => {
        const buf = this.bufs[i];
        copyInto(buf, add(mul(buf, momentum), mul(g, 1 - momentum)));              // buf.lerp_(g, 1 - momentum)
        const update = nesterov ? add(mul(g, 1 - momentum), mul(buf, momentum)) : buf;  // g.lerp(buf, momentum)
        const ortho = newtonSchulz(update, this.o.nsSteps ?? 5, this.o.nsCoefficients ?? NS_COEFFICIENTS);
        const [A, B] = p.shape;
        const ratio = (this.o.adjustLr ?? 'original') === 'original' ? Math.sqrt(Math.max(1, A / B)) : 0.2 * Math.sqrt(Math.max(A, B));
        copyInto(p.data, add(mul(p.data, 1 - this._lr * wd), mul(ortho, -this._lr * ratio)));
      });
    }));
    this.inner.step();
    if (any || this.inner.stepCount > this.stepCount) this.stepCount++;
  }

  state(): OptimizerState {
    const inner = this.inner.state();
    const tensors = new Map(inner.tensors);
    this.names.forEach((n, i) => tensors.set(`${n}.momentum_buffer`, this.bufs[i]));
    return { tensors, meta: { type: 'muon', step: this.stepCount, lr: this._lr, adamw: inner.meta } };
  }

  loadState(s: OptimizerState): void {
    if (s.meta.type !== 'muon') throw new Error(`Muon.loadState: state is for ${JSON.stringify(s.meta.type)}`);
    const mine = new Map<string, Tensor>(), theirs = new Map<string, Tensor>(), rest = new Map<string, Tensor>();
    this.names.forEach((n, i) => mine.set(`${n}.momentum_buffer`, this.bufs[i]));
    for (const [k, t] of s.tensors) (k.endsWith('.momentum_buffer') ? theirs : rest).set(k, t);
    restoreBuffers('Muon', mine, theirs, copyInto);
    this.inner.loadState({ tensors: rest, meta: s.meta.adamw as Record<string, unknown> });
    this.stepCount = Number(s.meta.step);
    this.lr = Number(s.meta.lr);
  }

  dispose(): void { for (const b of this.bufs) b.dispose(); this.inner.dispose(); }
}
