// StellarForCausalLM: the decoder with HF parameter names (model.embed_tokens.weight,
// model.layers.N.self_attn.q_proj.weight, ..., model.norm.weight, lm_head.weight), logits and the
// HF-shifted next-token loss, attention masks, position ids and the KV cache. Tied embeddings reuse
// model.embed_tokens.weight as the output matrix.
import { Tensor, Generator, arange, concat, crossEntropy, full, matmul, slice, transpose, tidy, isGradEnabled, add, mul, type Device } from '@stellar/tensor';
import { Module, ModuleList } from '../module';
import { Embedding } from '../layers/embedding';
import { Linear } from '../layers/linear';
import { RMSNorm } from '../layers/rmsnorm';
import { LlamaDecoderLayer } from './decoder-layer';
import { KVCache } from './kv-cache';
import { checkpoint } from '../checkpoint';
import { headDim, validateConfig, type ModelConfig } from '../config';
import { loadBalancingLoss } from './moe';
import type { ForwardContext } from './context';
import { keyPaddingMask, maxPosition } from './masks';

export interface TrunkOptions {
  /** (B, S) 1 = real token, 0 = padding, over the cached and the new positions (HF's attention_mask). */
  attentionMask?: Tensor;
  /** (B, T) int positions of the new tokens; default cache.length + 0..T-1 for every row. */
  positionIds?: Tensor;
  /** Keys/values of earlier positions; the new ones are appended (inference only: use under noGrad). */
  cache?: KVCache;
  /**
   * (B, S) int32 segment ids for rows packing several samples, over the cached and the new positions
   * (S = T without a cache): a token attends only to earlier tokens with the same id. Pass positionIds
   * restarting at 0 in each segment so every sample sees the positions it would see alone.
   */
  segmentIds?: Tensor;
}

export interface TrunkOutput {
  hidden: Tensor;           // (B, T, C) after the final norm
  auxLoss: Tensor | null;   // mean load-balancing loss over MoE layers
  zLoss: Tensor | null;     // mean router z-loss over MoE layers
}

/** The trunk, named `model` in HF checkpoints. */
export class LlamaModel extends Module {
  readonly embedTokens: Embedding;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  readonly norm: RMSNorm;
  /** Recompute each layer in backward instead of storing its activations. */
  gradientCheckpointing = false;
  /** Randomness of dropout, drop-path and router noise in training. */
  readonly generator: Generator;

  constructor(readonly config: ModelConfig, g: Generator) {
    super();
    const c = config;
    this.generator = new Generator(g.seedValue ^ 0x5eedn);
    this.embedTokens = this.registerModule('embed_tokens', new Embedding(c.vocabSize, c.hiddenSize, { std: c.initializerRange, generator: g, paddingIdx: c.padTokenId }));
    this.layers = this.registerModule('layers', new ModuleList<LlamaDecoderLayer>());
    for (let i = 0; i < c.numHiddenLayers; i++) this.layers.push(new LlamaDecoderLayer(c, g, i));
    this.norm = this.registerModule('norm', new RMSNorm(c.hiddenSize, c.rmsNormEps));
  }

  /** RoPE base for sequences reaching position `maxPos` (dynamic NTK grows it past the trained length). */
  ropeTheta(maxPos: number): number {
    const c = this.config, s = c.ropeScaling;
    const L = maxPos + 1;
    if (s?.type !== 'dynamic' || L <= c.maxPositionEmbeddings) return c.ropeTheta;
    const D = headDim(c);
    return c.ropeTheta * ((s.factor * L) / c.maxPositionEmbeddings - (s.factor - 1)) ** (D / (D - 2));
  }

  /** ids (B, T) -> final normed hidden states (B, T, C) and the MoE losses. */
  forward(ids: Tensor, opts: TrunkOptions = {}): TrunkOutput {
    const [B, T] = ids.shape;
    const cache = opts.cache ?? null;
    if (cache && isGradEnabled() && this.parameters().some((p) => p.data.requiresGrad)) {
      throw new Error('forward with a KV cache records no gradients through the cache: run it under noGrad()');
    }
    const past = cache ? cache.length : 0;
    if (opts.positionIds && !(opts.positionIds.ndim === 2 && opts.positionIds.shape[0] === B && opts.positionIds.shape[1] === T)) {
      throw new Error(`positionIds must be (B, T) = (${B}, ${T}), got [${opts.positionIds.shape.join(', ')}]`);
    }
    const seg = opts.segmentIds ?? null;
    if (seg && !(seg.dtype === 'int32' && seg.ndim === 2 && seg.shape[0] === B && seg.shape[1] === past + T)) {
      throw new Error(`segmentIds must be (B, S) = (${B}, ${past + T}) int32 covering cached and new positions, got ${seg.dtype} [${seg.shape.join(', ')}]`);
    }
    const out = tidy(() => {
      const positions = opts.positionIds ?? arange(past, past + T, 1, { dtype: 'int32' });   // (B, T) or (T)
      const ctx: ForwardContext = {
        positions,
        ropeTheta: this.ropeTheta(opts.positionIds ? maxPosition(opts.positionIds) : past + T - 1),
        keyPaddingMask: opts.attentionMask ? keyPaddingMask(opts.attentionMask, B, past + T) : null,
        segmentIds: seg,
        cache,
        generator: this.generator,
        routerLogits: [],
        topkIndices: [],
        zLosses: [],
      };
      let x = this.embedTokens.forward(ids);   // (B, T, C)
      const ckpt = this.gradientCheckpointing && this.training && isGradEnabled() && !cache;
      for (const layer of this.layers) {
        if (!ckpt) { x = layer.forward(x, ctx); continue; }
        const params = layer.parameters().map((p) => p.data);
        // MoE losses produced inside the recomputed block travel as extra outputs so they get gradients
        const { keyPaddingMask: km, segmentIds: sg } = ctx;
        const extras = [ctx.positions, ...(km ? [km] : []), ...(sg ? [sg] : [])];
        const [y, ...losses] = checkpoint((h, positions, ...masks) => {
          const keyPaddingMask = km ? masks[0] : null, segmentIds = sg ? masks[km ? 1 : 0] : null;
          const inner: ForwardContext = { ...ctx, positions, keyPaddingMask, segmentIds, routerLogits: [], topkIndices: [], zLosses: [] };
          const o = layer.forward(h, inner);
          return [o, ...inner.routerLogits, ...inner.topkIndices, ...inner.zLosses];
        }, x, extras, params, this.generator);
        const n = losses.length / 3;   // one router output, choice and z-loss per MoE layer
        ctx.routerLogits.push(...losses.slice(0, n));
        ctx.topkIndices.push(...losses.slice(n, 2 * n));
        ctx.zLosses.push(...losses.slice(2 * n));
        x = y;
      }
      const meanOf = (ls: Tensor[]) => (ls.length ? mul(ls.reduce((a, b) => add(a, b)), 1 / ls.length) : null);
      // HF's load_balancing_loss_func: assignment counts and router probabilities pooled over every
      // layer (and over real tokens only when an attention mask is given), not a mean of per-layer losses
      const c = this.config;
      const tokenMask = opts.attentionMask ? slice(opts.attentionMask, 1, opts.attentionMask.shape[1] - T) : null;   // (B, T)
      const auxLoss = ctx.routerLogits.length
        ? loadBalancingLoss(ctx.routerLogits.map((l, i) => ({ routerLogits: l, topkIndices: ctx.topkIndices[i] })), c.numLocalExperts, c.numExpertsPerTok, tokenMask)
        : null;
      return { hidden: this.norm.forward(x), auxLoss, zLoss: meanOf(ctx.zLosses) };
    });
    if (cache) cache.advance(T);
    return out;
  }
}

export interface CausalLMOptions extends TrunkOptions {
  /** (B, T) int targets aligned with the inputs: position t is predicted from tokens < t (HF shift); -100 is ignored. */
  labels?: Tensor;
  /** Compute logits only for the last n positions (generation needs 1); 0 = all. */
  logitsToKeep?: number;
  /** Also return the final hidden states (value heads read them). */
  returnHidden?: boolean;
  /** PyTorch label smoothing of the LM loss, in [0, 1). */
  labelSmoothing?: number;
}

export interface CausalLMOutput {
  logits: Tensor;          // (B, T, V), or (B, logitsToKeep, V)
  /** Training objective: lmLoss + routerAuxLossCoef * auxLoss + routerZLossCoef * zLoss, when labels are given. */
  loss: Tensor | null;
  lmLoss: Tensor | null;   // scalar mean over the non-ignored shifted labels
  auxLoss: Tensor | null;  // MoE load-balancing loss (mean over layers), null for dense models
  zLoss: Tensor | null;    // MoE router z-loss (mean over layers)
  hidden?: Tensor;         // (B, T, C) final normed hidden states, with returnHidden
}

export function checkIds(name: string, inputIds: Tensor): void {
  if (inputIds.ndim !== 2 || (inputIds.dtype !== 'int32' && inputIds.dtype !== 'int64')) {
    throw new Error(`${name}: inputIds must be (B, T) int32/int64, got ${inputIds.dtype} [${inputIds.shape.join(', ')}]`);
  }
}

export class StellarForCausalLM extends Module {
  readonly model: LlamaModel;
  readonly lmHead: Linear | null;   // null when tied to model.embed_tokens

  /** Weights drawn from normal(0, initializerRange) in a fixed order from `seed`; norms start at 1. */
  constructor(readonly config: ModelConfig, opts: { seed?: number } = {}) {
    super();
    validateConfig(config);
    const g = new Generator(opts.seed ?? 0);
    this.model = this.registerModule('model', new LlamaModel(config, g));
    this.lmHead = config.tieWordEmbeddings ? null
      : this.registerModule('lm_head', new Linear(config.hiddenSize, config.vocabSize, { std: config.initializerRange, generator: g }));
  }

  get device(): Device { return this.model.embedTokens.weight.data.device; }

  /** A KV cache for `batch` sequences of up to `capacity` positions. */
  createCache(batch: number, capacity: number): KVCache { return new KVCache(this.config, batch, capacity); }

  /** Recompute each layer in backward (less memory, one more forward per step). */
  gradientCheckpointingEnable(on = true): this { this.model.gradientCheckpointing = on; return this; }

  /** hidden (B, T, C) -> logits (B, T, V) */
  logitsOf(h: Tensor): Tensor {
    if (this.lmHead) return this.lmHead.forward(h);
    return tidy(() => matmul(h, transpose(this.model.embedTokens.weight.data)));
  }

  /** inputIds (B, T) int32/int64 -> logits (B, T, V) and, with labels, the loss. */
  forward(inputIds: Tensor, opts: CausalLMOptions = {}): CausalLMOutput {
    checkIds('StellarForCausalLM', inputIds);
    const { labels } = opts;
    if (labels && !labels.shapeEquals(inputIds.shape)) throw new Error(`StellarForCausalLM: labels [${labels.shape.join(', ')}] must match inputIds [${inputIds.shape.join(', ')}]`);
    const keepN = opts.logitsToKeep ?? 0;
    if (labels && keepN) throw new Error('StellarForCausalLM: logitsToKeep cannot be combined with labels');
    return tidy(() => {
      const trunk = this.model.forward(inputIds, opts);
      const T = inputIds.shape[1];
      const h = keepN > 0 && keepN < T ? slice(trunk.hidden, 1, T - keepN) : trunk.hidden;
      const logits = this.logitsOf(h);   // (B, T, V)
      let lmLoss: Tensor | null = null, loss: Tensor | null = null;
      if (labels) {
        // logits at t predict the label at t + 1; the last position predicts nothing. Shifting the small
        // label tensor (not slicing the (B, T, V) logits) keeps the logits contiguous: no copy of them.
        const B = inputIds.shape[0];
        const shifted = concat([slice(labels, 1, 1), full([B, 1], -100, { dtype: labels.dtype })], 1);   // (B, T)
        lmLoss = crossEntropy(logits, shifted, { ignoreIndex: -100, labelSmoothing: opts.labelSmoothing ?? 0 });
        loss = lmLoss;
        const c = this.config;
        if (trunk.auxLoss && c.routerAuxLossCoef > 0) loss = add(loss, mul(trunk.auxLoss, c.routerAuxLossCoef));
        if (trunk.zLoss && c.routerZLossCoef > 0) loss = add(loss, mul(trunk.zLoss, c.routerZLossCoef));
      }
      const out: CausalLMOutput = { logits, loss, lmLoss, auxLoss: trunk.auxLoss, zLoss: trunk.zLoss };
      if (opts.returnHidden) out.hidden = trunk.hidden;
      return out;
    });
  }
}
