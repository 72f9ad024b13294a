// RMSNorm with a learned per-channel scale (HF LlamaRMSNorm), on the fused kernel.
import { Tensor, ones, rmsNorm } from '@stellar/tensor';
import { Module, Parameter } from '../module';

export class RMSNorm extends Module {
  readonly weight: Parameter;   // (C)

  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.weight = this.registerParameter('weight', new Parameter(ones([dim])));
  }

  /** x (..., C) -> (..., C) */
  forward(x: Tensor): Tensor { return rmsNorm(x, this.weight.data, this.eps); }
}
