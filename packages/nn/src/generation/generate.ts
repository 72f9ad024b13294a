// Autoregressive generation over a batch of prompts of different lengths: left padding, attention
// mask and HF-style position ids, one KV cache, host-side logit processing and sampling, stop rules,
// optional per-token log-probs. The one implementation behind RL rollouts and the server.
import { Tensor, noGrad, tidy } from '@stellar/tensor';
import type { StellarForCausalLM } from '../model/causal-lm';
import { positionsFromMask } from '../model/masks';
import {
  applyMinP, applyPresenceFrequency, applyRepetitionPenalty, applyTopK, applyTopP, argmaxRow, logSoftmaxRow, sampleRow, softmaxRow,
} from './processors';
import { SamplingRng } from './rng';

export interface GenerateOptions {
  /** New tokens per row at most (default 16). */
  maxNewTokens?: number;
  /** 0 = greedy (argmax); otherwise logits are divided by it before sampling (default 1). */
  temperature?: number;
  topK?: number;          // 0 = off
  topP?: number;          // 1 = off
  minP?: number;          // 0 = off
  /** HF/CTRL penalty on every token already in the prompt or output (1 = off). */
  repetitionPenalty?: number;
  /** OpenAI-style penalties on output tokens (0 = off). */
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** A row finishes after emitting any of these ids (kept in its output, as HF does). */
  eosTokenId?: number | number[];
  /** Token sequences that finish a row when its output ends with one (kept in the output). */
  stop?: number[][];
  /** Sampling seed: the same seed, prompts and options give the same tokens. */
  seed?: number;
  /** Return log-probs of the chosen tokens under softmax(logits / temperature) (temperature 1 when greedy). */
  logprobs?: boolean;
  /** Also return this many most likely alternatives per step (with logprobs). */
  topLogprobs?: number;
  /** Token id used for left padding (never attended to); default 0. */
  padTokenId?: number;
  /** Called after each token; return true to finish that row now (cancellation, streaming). */
  onToken?: (row: number, token: number, logprob: number | null) => boolean | void;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface GenerateResult {
  /** Generated tokens per row (prompt excluded). */
  tokens: number[][];
  finishReasons: FinishReason[];
  /** Per generated token, with `logprobs`. */
  logprobs?: number[][];
  topLogprobs?: { token: number; logprob: number }[][][];
}

function checkOptions(o: GenerateOptions): Required<Pick<GenerateOptions, 'maxNewTokens' | 'temperature' | 'topK' | 'topP' | 'minP' | 'repetitionPenalty' | 'presencePenalty' | 'frequencyPenalty'>> {
  const r = {
    maxNewTokens: o.maxNewTokens ?? 16, temperature: o.temperature ?? 1, topK: o.topK ?? 0, topP: o.topP ?? 1, minP: o.minP ?? 0,
    repetitionPenalty: o.repetitionPenalty ?? 1, presencePenalty: o.presencePenalty ?? 0, frequencyPenalty: o.frequencyPenalty ?? 0,
  };
  const bad = (k: string, why: string) => { throw new Error(`generate: ${k} ${why}, got ${JSON.stringify((r as Record<string, unknown>)[k])}`); };
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 0) bad('maxNewTokens', 'must be an integer >= 0');
  if (!(r.temperature >= 0)) bad('temperature', 'must be >= 0');
  if (!Number.isInteger(r.topK) || r.topK < 0) bad('topK', 'must be an integer >= 0');
  if (!(r.topP > 0 && r.topP <= 1)) bad('topP', 'must be in (0, 1]');
  if (!(r.minP >= 0 && r.minP <= 1)) bad('minP', 'must be in [0, 1]');
  if (!(r.repetitionPenalty > 0)) bad('repetitionPenalty', 'must be > 0');
  if (!Number.isFinite(r.presencePenalty)) bad('presencePenalty', 'must be a number');
  if (!Number.isFinite(r.frequencyPenalty)) bad('frequencyPenalty', 'must be a number');
  return r;
}

/** Generates continuations of `prompts` (token id arrays, any lengths >= 1) with `model` in eval mode. */
export function generate(model: StellarForCausalLM, prompts: number[][], opts: GenerateOptions = {}): GenerateResult {
  const o = checkOptions(opts);
  const V = model.config.vocabSize;
  const B = prompts.length;
  if (B === 0) throw new Error('generate: no prompts');
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`generate: prompt ${i} is empty`);
    for (const t of p) if (!(Number.isInteger(t) && t >= 0 && t < V)) throw new Error(`generate: prompt ${i} holds token ${t} outside [0, ${V})`);
  });
  const eos = new Set(opts.eosTokenId === undefined ? [] : Array.isArray(opts.eosTokenId) ? opts.eosTokenId : [opts.eosTokenId]);
  const stops = (opts.stop ?? []).filter((s) => s.length > 0);
  const pad = opts.padTokenId ?? 0;
  const P = Math.max(...prompts.map((p) => p.length));
  const S = P + o.maxNewTokens;
  const rng = new SamplingRng(opts.seed ?? 0);
  const wantLp = !!opts.logprobs || (opts.topLogprobs ?? 0) > 0;

  // (B, S) mask over every position the cache will hold: left padding, then prompt, then new tokens
  const mask = new Int32Array(B * S);
  const ids = new Int32Array(B * P);
  for (let b = 0; b < B; b++) {
    const off = P - prompts[b].length;
    for (let s = 0; s < S; s++) mask[b * S + s] = s >= off ? 1 : 0;
    for (let s = 0; s < P; s++) ids[b * P + s] = s >= off ? prompts[b][s - off] : pad;
  }
  const positions = positionsFromMask(mask, B, S);   // (B, S)

  const tokens: number[][] = prompts.map(() => []);
  const lps: number[][] = prompts.map(() => []);
  const tops: { token: number; logprob: number }[][][] = prompts.map(() => []);
  const finish: (FinishReason | null)[] = new Array(B).fill(null);
  const seen = prompts.map((p) => new Set(p));
  const counts = prompts.map(() => new Map<number, number>());
  const wasTraining = model.training;
  model.eval();
  const cache = model.createCache(B, Math.max(1, S));
  try {
    noGrad(() => {
      let stepIds = ids, T = P;
      for (let step = 0; step < o.maxNewTokens; step++) {
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
          const raw = logits.subarray(b * V, (b + 1) * V);
          const x = Float64Array.from(raw);
          applyRepetitionPenalty(x, seen[b], o.repetitionPenalty);
          applyPresenceFrequency(x, counts[b], o.presencePenalty, o.frequencyPenalty);
          let tok: number;
          if (o.temperature === 0) tok = argmaxRow(x);
          else {
            for (let i = 0; i < V; i++) x[i] /= o.temperature;
            applyTopK(x, o.topK);
            applyTopP(x, o.topP);
            applyMinP(x, o.minP);
            tok = sampleRow(softmaxRow(x), rng.next());
          }
          let lp: number | null = null;
          if (wantLp) {
            const t = o.temperature === 0 ? 1 : o.temperature;
            const l = logSoftmaxRow(Float64Array.from(raw, (v) => v / t));
            lp = l[tok];
            lps[b].push(lp);
            const n = opts.topLogprobs ?? 0;
            if (n > 0) tops[b].push(Array.from(l.keys()).sort((i, j) => l[j] - l[i] || i - j).slice(0, n).map((i) => ({ token: i, logprob: l[i] })));
          }
          tokens[b].push(tok);
          seen[b].add(tok);
          counts[b].set(tok, (counts[b].get(tok) ?? 0) + 1);
          next[b] = tok;
          const out = tokens[b];
          if (eos.has(tok) || stops.some((s) => s.length <= out.length && s.every((v, i) => out[out.length - s.length + i] === v))) finish[b] = 'stop';
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
  const res: GenerateResult = { tokens, finishReasons: finish.map((f) => f ?? 'length') };
  if (wantLp) res.logprobs = lps;
  if ((opts.topLogprobs ?? 0) > 0) res.topLogprobs = tops;
  return res;
}
