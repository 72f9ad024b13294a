// One decoder layer with the residual variants as config fields: pre-norm LLaMA
// (x + attn(ln1 x), then + mlp(ln2 .)), parallel residual (x + attn(ln1 x) + mlp(ln1 x)) and DeepNorm
// post-norm (ln1(alpha x + attn x), ln2(alpha h + mlp h)); each branch optionally goes through
// LayerScale, dropout and drop-path before it is added.
import { Tensor, Generator, add, mul, tidy, ones, dropout, dropoutMask, noGrad, fill_, copyInto } from '@stellar/tensor';
import { Module, Parameter } from '../module';
import { RMSNorm } from '../layers/rmsnorm';
import { LlamaAttention } from './attention';
import { LlamaMLP } from './mlp';
import { MoeBlock } from './moe';
import type { ModelConfig } from '../config';
import type { ForwardContext } from './context';

export class LlamaDecoderLayer extends Module {
  readonly selfAttn: LlamaAttention;
  /** Dense SwiGLU `mlp`, or with numLocalExperts > 0 the MoE block under HF Mixtral's on-disk name `block_sparse_moe`. */
  readonly mlp: LlamaMLP | MoeBlock;
  readonly inputLayernorm: RMSNorm;
  readonly postAttentionLayernorm: RMSNorm | null;   // absent with parallelResidual
  readonly attnLayerScale: Parameter | null;         // (C) LayerScale
  readonly mlpLayerScale: Parameter | null;          // (C)
  /** Drop-path probability of this layer: dropPath * i / (N - 1). */
  readonly dropPathRate: number;
  private readonly alpha: number;                    // DeepNorm residual scale (1 otherwise)

  constructor(private readonly c: ModelConfig, g: Generator, readonly layerIdx: number) {
    super();
    this.selfAttn = this.registerModule('self_attn', new LlamaAttention(c, g, layerIdx));
    this.mlp = c.numLocalExperts > 0 ? this.registerModule('block_sparse_moe', new MoeBlock(c, g)) : this.registerModule('mlp', new LlamaMLP(c, g));
    this.inputLayernorm = this.registerModule('input_layernorm', new RMSNorm(c.hiddenSize, c.rmsNormEps));
    this.postAttentionLayernorm = c.parallelResidual ? null : this.registerModule('post_attention_layernorm', new RMSNorm(c.hiddenSize, c.rmsNormEps));
    const scale = (name: string) => {
      if (c.layerScaleInit === null) return null;
      const p = this.registerParameter(name, new Parameter(ones([c.hiddenSize])));
      noGrad(() => fill_(p.data, c.layerScaleInit!));
      return p;
    };
    this.attnLayerScale = scale('attn_layer_scale');
    this.mlpLayerScale = scale('mlp_layer_scale');
    const N = c.numHiddenLayers;
    this.dropPathRate = c.dropPath * layerIdx / Math.max(1, N - 1);
    this.alpha = c.deepNorm ? (2 * N) ** 0.25 : 1;
    if (c.deepNorm) {
      // DeepNet init: value, output and FFN matrices scaled by beta = (8N)^-1/4 (q and k are not)
      const beta = (8 * N) ** -0.25;
      const a = this.selfAttn, m = this.mlp;
      noGrad(() => tidy(() => {
        // MoE: every expert's (and the shared expert's) matrices, not the router
        const ffn = m instanceof LlamaMLP ? [m.gateProj, m.upProj, m.downProj]
          : [...m.experts.items, ...(m.sharedExpert ? [m.sharedExpert] : [])].flatMap((e) => [e.gate, e.up, e.down]);
        for (const l of [a.vProj, a.oProj, ...ffn]) {
          copyInto(l.weight.data, mul(l.weight.data, beta));
        }
      }));
    }
  }

  /** LayerScale, dropout and drop-path on a branch output (B, T, C). */
  private branch(y: Tensor, scale: Parameter | null, ctx: ForwardContext): Tensor {
    if (scale) y = mul(y, scale.data);
    if (this.training && this.c.hiddenDropout > 0) y = dropout(y, this.c.hiddenDropout, true, { generator: ctx.generator });
    if (this.training && this.dropPathRate > 0) {
      const keepMask = dropoutMask([y.shape[0], 1, 1], this.dropPathRate, { generator: ctx.generator, device: y.device });   // (B, 1, 1)
      y = mul(y, keepMask);
    }
    return y;
  }

  /** The feed-forward branch h (B, T, C) -> (B, T, C); an MoE block also hands back its router logits, choices and z-loss. */
  private ffn(h: Tensor, ctx: ForwardContext, losses: Tensor[]): Tensor {
    if (this.mlp instanceof LlamaMLP) return this.mlp.forward(h);
    const o = this.mlp.forward(h, { generator: ctx.generator });
    losses.push(o.routerLogits, o.topkIndices, o.zLoss);
    return o.y;
  }

  /** x (B, T, C) -> (B, T, C); MoE layers push their router outputs and z-loss to ctx. */
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    // the losses leave the tidy scope with the output, so they live on in the caller's scope
    const { out, losses } = tidy(() => {
      const losses: Tensor[] = [];
      const attn = (h: Tensor) => this.branch(this.selfAttn.forward(h, ctx), this.attnLayerScale, ctx);
      const mlp = (h: Tensor) => this.branch(this.ffn(h, ctx, losses), this.mlpLayerScale, ctx);
      let out: Tensor;
      if (this.c.deepNorm) {
        const h = this.inputLayernorm.forward(add(mul(x, this.alpha), attn(x)));
        out = this.postAttentionLayernorm!.forward(add(mul(h, this.alpha), mlp(h)));
      } else if (this.c.parallelResidual) {
        const n = this.inputLayernorm.forward(x);
        out = add(add(x, attn(n)), mlp(n));
      } else {
        const h = add(x, attn(this.inputLayernorm.forward(x)));
        out = add(h, mlp(this.postAttentionLayernorm!.forward(h)));
      }
      return { out, losses };
    });
    if (losses.length) { ctx.routerLogits.push(losses[0]); ctx.topkIndices.push(losses[1]); ctx.zLosses.push(losses[2]); }
    return out;
  }
}
