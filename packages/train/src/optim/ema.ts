// Exponential moving average of the weights (kept in float32 beside the model), swapped in for
// evaluation or saving: ema = decay * ema + (1 - decay) * w after each optimizer step.
import { Tensor, add, copyInto, keep, mul, noGrad, tidy } from '@stellar/tensor';
import type { Module } from '@stellar/nn';

export class WeightEma {
  private readonly shadow = new Map<string, Tensor>();

  constructor(private readonly model: Module, readonly decay = 0.999) {
    if (!(decay > 0 && decay < 1)) throw new Error(`WeightEma: decay must be in (0, 1), got ${decay}`);
    for (const [n, p] of model.namedParameters()) this.shadow.set(n, keep(noGrad(() => p.data.clone())));   // a copy, never a view of the weight
  }

  update(): void {
    noGrad(() => {
      for (const [n, p] of this.model.namedParameters()) {
        const s = this.shadow.get(n)!;
        tidy(() => copyInto(s, add(mul(s, this.decay), mul(p.data, 1 - this.decay))));
      }
    });
  }

  /** The averaged weights by parameter name (owned by the EMA; copy before disposing it). */
  stateDict(): Map<string, Tensor> { return new Map(this.shadow); }

  dispose(): void { for (const t of this.shadow.values()) t.dispose(); this.shadow.clear(); }
}
