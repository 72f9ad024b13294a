// One pre-norm LLaMA decoder layer: x + attn(norm(x)), then + mlp(norm(.)).
import { Tensor, Generator, add, tidy } from '@stellar/tensor';
import { Module } from '../module';
import { RMSNorm } from '../layers/rmsnorm';
import { LlamaAttention } from './attention';
import { LlamaMLP } from './mlp';
import type { ModelConfig } from '../config';

export class LlamaDecoderLayer extends Module {
  readonly selfAttn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly inputLayernorm: RMSNorm;
  readonly postAttentionLayernorm: RMSNorm;

  constructor(c: ModelConfig, g: Generator) {
    super();
    this.selfAttn = this.registerModule('self_attn', new LlamaAttention(c, g));
    this.mlp = this.registerModule('mlp', new LlamaMLP(c, g));
    this.inputLayernorm = this.registerModule('input_layernorm', new RMSNorm(c.hiddenSize, c.rmsNormEps));
    this.postAttentionLayernorm = this.registerModule('post_attention_layernorm', new RMSNorm(c.hiddenSize, c.rmsNormEps));
  }

  /** x (B, T, C), positions (T) -> (B, T, C) */
  forward(x: Tensor, positions: Tensor): Tensor {
    return tidy(() => {
      const h = add(x, this.selfAttn.forward(this.inputLayernorm.forward(x), positions));   // (B, T, C)
      return add(h, this.mlp.forward(this.postAttentionLayernorm.forward(h)));             // (B, T, C)
    });
  }
}
