// Token embedding table (vocab, dim) looked up by integer ids, with PyTorch's padding_idx: that row
// starts at zero and receives no gradient (HF LLaMA passes pad_token_id as padding_idx).
import { Tensor, Generator, randn, embedding, ne, cast, unsqueeze, where, tidy, noGrad, fill_, narrow } from '@stellar/tensor';
import { Module, Parameter } from '../module';

export interface EmbeddingOptions { std?: number; generator?: Generator; paddingIdx?: number | null }

export class Embedding extends Module {
  readonly weight: Parameter;   // (V, C)
  readonly paddingIdx: number | null;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    const pad = opts.paddingIdx ?? null;
    if (pad !== null && !(Number.isInteger(pad) && pad >= 0 && pad < numEmbeddings)) throw new Error(`Embedding: paddingIdx ${pad} is outside [0, ${numEmbeddings})`);
    this.paddingIdx = pad;
    this.weight = this.registerParameter('weight', new Parameter(randn([numEmbeddings, embeddingDim], { generator: opts.generator, std: opts.std ?? 0.02 })));
    if (pad !== null) noGrad(() => tidy(() => { fill_(narrow(this.weight.data, 0, pad, 1), 0); }));
  }

  /** ids (...) int32/int64 -> (..., C) */
  forward(ids: Tensor): Tensor {
    const pad = this.paddingIdx;
    if (pad === null) return embedding(this.weight.data, ids);
    return tidy(() => {
      const e = embedding(this.weight.data, ids);   // (..., C)
      // padding positions take the same values through a detached path, so their gradient is dropped
      // (comparisons are float32-only; ids below 2^24 are exact in float32)
      return where(unsqueeze(ne(cast(ids, 'float32'), pad), -1), e, e.detach());
    });
  }
}
