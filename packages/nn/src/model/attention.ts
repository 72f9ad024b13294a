// LLaMA self-attention: q/k/v projections, RoPE on q and k, causal GQA attention on the fused
// kernel (KV heads are shared by groups of query heads inside the kernel, never repeated), o_proj.
import { Tensor, Generator, applyRotary, scaledDotProductAttention, reshape, transpose, tidy } from '@stellar/tensor';
import { Module } from '../module';
import { Linear } from '../layers/linear';
import { headDim, type ModelConfig } from '../config';

export class LlamaAttention extends Module {
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly oProj: Linear;
  private readonly hq: number;
  private readonly hkv: number;
  private readonly d: number;
  private readonly theta: number;

  constructor(c: ModelConfig, g: Generator) {
    super();
    this.hq = c.numAttentionHeads; this.hkv = c.numKeyValueHeads; this.d = headDim(c); this.theta = c.ropeTheta;
    const std = c.initializerRange;
    this.qProj = this.registerModule('q_proj', new Linear(c.hiddenSize, this.hq * this.d, { std, generator: g }));
    this.kProj = this.registerModule('k_proj', new Linear(c.hiddenSize, this.hkv * this.d, { std, generator: g }));
    this.vProj = this.registerModule('v_proj', new Linear(c.hiddenSize, this.hkv * this.d, { std, generator: g }));
    this.oProj = this.registerModule('o_proj', new Linear(this.hq * this.d, c.hiddenSize, { std, generator: g }));
  }

  /** x (B, T, C), positions (T) int -> (B, T, C) */
  forward(x: Tensor, positions: Tensor): Tensor {
    return tidy(() => {
      const [B, T] = x.shape;
      const heads = (t: Tensor, h: number) => transpose(reshape(t, [B, T, h, this.d]), 1, 2);   // (B, h, T, D) view
      const q = applyRotary(heads(this.qProj.forward(x), this.hq), positions, { theta: this.theta });   // (B, Hq, T, D)
      const k = applyRotary(heads(this.kProj.forward(x), this.hkv), positions, { theta: this.theta });  // (B, Hkv, T, D)
      const v = heads(this.vProj.forward(x), this.hkv);                                                 // (B, Hkv, T, D)
      const y = scaledDotProductAttention(q, k, v, { causal: true });                                   // (B, Hq, T, D)
      return this.oProj.forward(reshape(transpose(y, 1, 2), [B, T, this.hq * this.d]));                 // (B, T, C)
    });
  }
}
