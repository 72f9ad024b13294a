// LLaMA self-attention: q/k/v projections, RoPE (with the configured scaling and optional XPos) on
// q and k, causal GQA attention on the fused kernel (KV heads are shared by groups of query heads
// inside the kernel, never repeated), an optional sigmoid output gate, o_proj. With a KV cache the
// new keys/values are appended and the queries attend over everything stored. Packed rows (segment
// ids) attend within each sample only.
import { Tensor, Generator, applyRotary, scaledDotProductAttention, reshape, transpose, tidy, sigmoid, mul, type RopeOptions } from '@stellar/tensor';
import { Module } from '../module';
import { Linear } from '../layers/linear';
import { headDim, type ModelConfig } from '../config';
import type { ForwardContext } from './context';

export class LlamaAttention extends Module {
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly oProj: Linear;
  readonly gateProj: Linear | null;   // gated attention output (Stellar)
  private readonly hq: number;
  private readonly hkv: number;
  private readonly d: number;

  constructor(private readonly c: ModelConfig, g: Generator, readonly layerIdx: number) {
    super();
    this.hq = c.numAttentionHeads; this.hkv = c.numKeyValueHeads; this.d = headDim(c);
    const std = c.initializerRange;
    this.qProj = this.registerModule('q_proj', new Linear(c.hiddenSize, this.hq * this.d, { std, generator: g }));
    this.kProj = this.registerModule('k_proj', new Linear(c.hiddenSize, this.hkv * this.d, { std, generator: g }));
    this.vProj = this.registerModule('v_proj', new Linear(c.hiddenSize, this.hkv * this.d, { std, generator: g }));
    this.oProj = this.registerModule('o_proj', new Linear(this.hq * this.d, c.hiddenSize, { std, generator: g }));
    this.gateProj = c.attentionGate ? this.registerModule('gate_proj', new Linear(c.hiddenSize, this.hq * this.d, { std, generator: g })) : null;
  }

  private rope(ctx: ForwardContext, kind: 'query' | 'key'): RopeOptions {
    const s = this.c.ropeScaling;
    const o: RopeOptions = { theta: ctx.ropeTheta };
    if (s?.type === 'linear') o.scaling = { type: 'linear', factor: s.factor };
    else if (s?.type === 'ntk') o.scaling = { type: 'ntk', factor: s.factor };
    if (this.c.xposScaleBase !== null) { o.xpos = { scaleBase: this.c.xposScaleBase }; o.xposKind = kind; }
    return o;
  }

  /** x (B, T, C) -> (B, T, C) */
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    return tidy(() => {
      const [B, T] = x.shape;
      const heads = (t: Tensor, h: number) => transpose(reshape(t, [B, T, h, this.d]), 1, 2);   // (B, h, T, D) view
      const q = applyRotary(heads(this.qProj.forward(x), this.hq), ctx.positions, this.rope(ctx, 'query'));   // (B, Hq, T, D)
      let k = applyRotary(heads(this.kProj.forward(x), this.hkv), ctx.positions, this.rope(ctx, 'key'));      // (B, Hkv, T, D)
      let v = heads(this.vProj.forward(x), this.hkv);                                                        // (B, Hkv, T, D)
      if (ctx.cache) [k, v] = ctx.cache.append(this.layerIdx, k, v);                                         // (B, Hkv, S, D)
      const opts = { causal: true, keyPaddingMask: ctx.keyPaddingMask ?? undefined, segmentIds: ctx.segmentIds ?? undefined };
      const y = scaledDotProductAttention(q, k, v, opts);                                                    // (B, Hq, T, D)
      let merged = reshape(transpose(y, 1, 2), [B, T, this.hq * this.d]);                                     // (B, T, Hq*D)
      if (this.gateProj) merged = mul(merged, sigmoid(this.gateProj.forward(x)));
      return this.oProj.forward(merged);                                                                     // (B, T, C)
    });
  }
}
