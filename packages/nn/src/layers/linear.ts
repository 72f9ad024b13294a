// Linear layer y = x W^T (+ b) with PyTorch's weight layout (out, in), so HF weights load unchanged.
import { Tensor, Generator, randn, zeros, matmul, transpose, add } from '@stellar/tensor';
import { Module, Parameter } from '../module';

export interface LinearOptions { bias?: boolean; std?: number; generator?: Generator }

export class Linear extends Module {
  readonly weight: Parameter;   // (out, in)
  readonly bias: Parameter | null;   // (out)

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.weight = this.registerParameter('weight', new Parameter(randn([outFeatures, inFeatures], { generator: opts.generator, std: opts.std ?? 0.02 })));
    this.bias = opts.bias ? this.registerParameter('bias', new Parameter(zeros([outFeatures]))) : null;
  }

  /** x (..., in) -> (..., out) */
  forward(x: Tensor): Tensor {
    const wt = transpose(this.weight.data);   // (in, out) view, no copy
    try {
      const y = matmul(x, wt);
      if (!this.bias) return y;
      try { return add(y, this.bias.data); } finally { y.dispose(); }
    } finally { wt.dispose(); }
  }
}
