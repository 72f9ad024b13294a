// StellarForCausalLM: the dense LLaMA decoder with HF parameter names (model.embed_tokens.weight,
// model.layers.N.self_attn.q_proj.weight, ..., model.norm.weight, lm_head.weight), logits and the
// HF-shifted next-token loss. Tied embeddings reuse model.embed_tokens.weight as the output matrix.
import { Tensor, Generator, arange, crossEntropy, matmul, slice, transpose, tidy } from '@stellar/tensor';
import { Module, ModuleList } from '../module';
import { Embedding } from '../layers/embedding';
import { Linear } from '../layers/linear';
import { RMSNorm } from '../layers/rmsnorm';
import { LlamaDecoderLayer } from './decoder-layer';
import { validateConfig, type ModelConfig } from '../config';

/** The trunk, named `model` in HF checkpoints. */
export class LlamaModel extends Module {
  readonly embedTokens: Embedding;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  readonly norm: RMSNorm;

  constructor(c: ModelConfig, g: Generator) {
    super();
    this.embedTokens = this.registerModule('embed_tokens', new Embedding(c.vocabSize, c.hiddenSize, { std: c.initializerRange, generator: g, paddingIdx: c.padTokenId }));
    this.layers = this.registerModule('layers', new ModuleList<LlamaDecoderLayer>());
    for (let i = 0; i < c.numHiddenLayers; i++) this.layers.push(new LlamaDecoderLayer(c, g));
    this.norm = this.registerModule('norm', new RMSNorm(c.hiddenSize, c.rmsNormEps));
  }

  /** ids (B, T) -> final normed hidden states (B, T, C) */
  forward(ids: Tensor): Tensor {
    return tidy(() => {
      const T = ids.shape[1];
      const positions = arange(0, T, 1, { dtype: 'int32' });   // (T): every sequence starts at 0
      let x = this.embedTokens.forward(ids);                      // (B, T, C)
      for (const layer of this.layers) x = layer.forward(x, positions);
      return this.norm.forward(x);
    });
  }
}

export interface CausalLMOptions {
  /** (B, T) int targets aligned with the inputs: position t is predicted from tokens < t (HF shift); -100 is ignored. */
  labels?: Tensor;
}

export interface CausalLMOutput {
  logits: Tensor;        // (B, T, V)
  loss: Tensor | null;   // scalar mean over the non-ignored shifted labels, when labels are given
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

  /** inputIds (B, T) int32/int64 -> logits (B, T, V) and, with labels, the loss. */
  forward(inputIds: Tensor, opts: CausalLMOptions = {}): CausalLMOutput {
    if (inputIds.ndim !== 2 || (inputIds.dtype !== 'int32' && inputIds.dtype !== 'int64')) {
      throw new Error(`StellarForCausalLM: inputIds must be (B, T) int32/int64, got ${inputIds.dtype} [${inputIds.shape.join(', ')}]`);
    }
    const { labels } = opts;
    if (labels && !labels.shapeEquals(inputIds.shape)) throw new Error(`StellarForCausalLM: labels [${labels.shape.join(', ')}] must match inputIds [${inputIds.shape.join(', ')}]`);
    return tidy(() => {
      const h = this.model.forward(inputIds);   // (B, T, C)
      let logits: Tensor;
      if (this.lmHead) logits = this.lmHead.forward(h);
      else { const wt = transpose(this.model.embedTokens.weight.data); logits = matmul(h, wt); }   // (B, T, V)
      let loss: Tensor | null = null;
      if (labels) {
        const T = inputIds.shape[1];
        // logits at t predict the label at t + 1; the last position predicts nothing
        loss = crossEntropy(slice(logits, 1, 0, T - 1), slice(labels, 1, 1), { ignoreIndex: -100 });
      }
      return { logits, loss };
    });
  }
}
