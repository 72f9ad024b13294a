// Autoregressive generation over a batch of prompts of different lengths: left padding, attention
// mask and HF-style position ids, one KV cache, host-side logit processing and sampling, stop rules,
// optional per-token log-probs. The one implementation behind RL rollouts and the server.
import { Tensor, noGrad, tidy } from '@stellar/tensor';
import type { StellarForCausalLM } from '../model/causal-lm';
import { positionsFromMask } from '../model/masks';
import { resolveSampling, SequenceSampler, type FinishReason, type SamplingOptions } from './sequence';
import { SamplingRng } from './rng';

export interface GenerateOptions extends SamplingOptions {
  /** New tokens per row at most (default 16). */
  maxNewTokens?: number;
  /** Sampling seed: the same seed, prompts and options give the same tokens. */
  seed?: number;
  /** Token id used for left padding (never attended to); default 0. */
  padTokenId?: number;
  /** Called after each token; return true to finish that row now (cancellation, streaming). */
  onToken?: (row: number, token: number, logprob: number | null) => boolean | void;
}

export interface GenerateResult {
  /** Generated tokens per row (prompt excluded). */
  tokens: number[][];
  finishReasons: FinishReason[];
  /** Per generated token, with `logprobs`. */
  logprobs?: number[][];
  topLogprobs?: { token: number; logprob: number }[][][];
}

/** Generates continuations of `prompts` (token id arrays, any lengths >= 1) with `model` in eval mode. */
export function generate(model: StellarForCausalLM, prompts: number[][], opts: GenerateOptions = {}): GenerateResult {
  const maxNewTokens = opts.maxNewTokens ?? 16;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new Error(`generate: maxNewTokens must be an integer >= 0, got ${JSON.stringify(maxNewTokens)}`);
  const o = resolveSampling(opts, 'generate');
  const V = model.config.vocabSize;
  const B = prompts.length;
  if (B === 0) throw new Error('generate: no prompts');
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`generate: prompt ${i} is empty`);
    for (const t of p) if (!(Number.isInteger(t) && t >= 0 && t < V)) throw new Error(`generate: prompt ${i} holds token ${t} outside [0, ${V})`);
  });
  const pad = opts.padTokenId ?? 0;
  const P = Math.max(...prompts.map((p) => p.length));
  const S = P + maxNewTokens;
  const rng = new SamplingRng(opts.seed ?? 0);

  // (B, S) mask over every position the cache will hold: left padding, then prompt, then new tokens
  const mask = new Int32Array(B * S);
  const ids = new Int32Array(B * P);
  for (let b = 0; b < B; b++) {
    const off = P - prompts[b].length;
    for (let s = 0; s < S; s++) mask[b * S + s] = s >= off ? 1 : 0;
    for (let s = 0; s < P; s++) ids[b * P + s] = s >= off ? prompts[b][s - off] : pad;
  }
  const positions = positionsFromMask(mask, B, S);   // (B, S)

  // one shared rng, drawn from in row order: the samples of a batch depend on the seed alone
  const rows = prompts.map((p) => new SequenceSampler(p, o, rng));
  const finish: (FinishReason | null)[] = new Array(B).fill(null);
  const wasTraining = model.training;
  model.eval();
  const cache = model.createCache(B, Math.max(1, S));
  try {
    noGrad(() => {
      let stepIds = ids, T = P;
      for (let step = 0; step < maxNewTokens; step++) {
        const past = cache.length;
        const logits = tidy(() => {
          const sub = (a: Int32Array, from: number, len: number) => {
            const out = new Int32Array(B * len);
            for (let b = 0; b < B; b++) out.set(a.subarray(b * S + from, b * S + from + len), b * len);
            return out;
          };
          const out = model.forward(Tensor.fromArray(stepIds, [B, T], { dtype: 'int32' }), {
            cache,
            attentionMask: Tensor.fromArray(sub(mask, 0, past + T), [B, past + T], { dtype: 'int32' }),
            positionIds: Tensor.fromArray(sub(positions, past, T), [B, T], { dtype: 'int32' }),
            logitsToKeep: 1,
          });
          return out.logits.toFloat64();   // (B, 1, V) on the host
        });
        const next = new Int32Array(B);
        for (let b = 0; b < B; b++) {
          if (finish[b]) { next[b] = pad; continue; }
          const { token: tok, logprob: lp } = rows[b].next(logits.subarray(b * V, (b + 1) * V));
          next[b] = tok;
          finish[b] = rows[b].finish;
          if (opts.onToken?.(b, tok, lp) === true && !finish[b]) finish[b] = 'cancelled';
        }
        if (finish.every((f) => f)) break;
        stepIds = next; T = 1;
      }
    });
  } finally {
    cache.dispose();
    model.train(wasTraining);
  }
  const res: GenerateResult = { tokens: rows.map((r) => r.tokens), finishReasons: finish.map((f) => f ?? 'length') };
  if (o.wantLogprobs) res.logprobs = rows.map((r) => r.logprobs);
  if (o.topLogprobs > 0) res.topLogprobs = rows.map((r) => r.topLogprobs);
  return res;
}
