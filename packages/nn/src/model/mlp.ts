// LLaMA SwiGLU feed-forward: down(silu(gate(x)) * up(x)), on the fused swiglu kernel.
import { Tensor, Generator, swiglu, tidy } from '@stellar/tensor';
import { Module } from '../module';
import { Linear } from '../layers/linear';
import type { ModelConfig } from '../config';

export class LlamaMLP extends Module {
  readonly gateProj: Linear;
  readonly upProj: Linear;
  readonly downProj: Linear;

  constructor(c: ModelConfig, g: Generator) {
    super();
    const std = c.initializerRange;
    this.gateProj = this.registerModule('gate_proj', new Linear(c.hiddenSize, c.intermediateSize, { std, generator: g }));
    this.upProj = this.registerModule('up_proj', new Linear(c.hiddenSize, c.intermediateSize, { std, generator: g }));
    this.downProj = this.registerModule('down_proj', new Linear(c.intermediateSize, c.hiddenSize, { std, generator: g }));
  }

  /** x (B, T, C) -> (B, T, C) */
  forward(x: Tensor): Tensor {
    return tidy(() => this.downProj.forward(swiglu(this.gateProj.forward(x), this.upProj.forward(x))));   // (B, T, F) inside
  }
}
