// One sequence's decoding state: option checks, logit processing (penalties, temperature, top-k/p,
// min-p), seeded sampling, log-probs with top alternatives and token-level stop rules. generate()
// and the serving engine both drive one of these per row; neither owns the per-token rules.
import {
  applyMinP, applyPresenceFrequency, applyRepetitionPenalty, applyTopK, applyTopP, argmaxRow, logSoftmaxRow, sampleRow, softmaxRow,
} from './processors';
import type { SamplingRng } from './rng';

export interface SamplingOptions {
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
  /** Return log-probs of the chosen tokens under softmax(logits / temperature) (temperature 1 when greedy). */
  logprobs?: boolean;
  /** Also return this many most likely alternatives per step (with logprobs). */
  topLogprobs?: number;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface ResolvedSampling {
  temperature: number; topK: number; topP: number; minP: number;
  repetitionPenalty: number; presencePenalty: number; frequencyPenalty: number;
  eos: ReadonlySet<number>;
  stop: readonly number[][];
  /** logprobs requested (explicitly or through topLogprobs). */
  wantLogprobs: boolean;
  topLogprobs: number;
}

/** A bad sampling option; `option` is its name in SamplingOptions (callers map it to their own API's names). */
export class SamplingOptionError extends Error {
  constructor(readonly option: string, message: string) {
    super(message);
    this.name = 'SamplingOptionError';
  }
}

/** Defaults and range checks; messages read `<who>: <option> <rule>, got <value>`. */
export function resolveSampling(o: SamplingOptions, who = 'generate'): ResolvedSampling {
  const r = {
    temperature: o.temperature ?? 1, topK: o.topK ?? 0, topP: o.topP ?? 1, minP: o.minP ?? 0,
    repetitionPenalty: o.repetitionPenalty ?? 1, presencePenalty: o.presencePenalty ?? 0, frequencyPenalty: o.frequencyPenalty ?? 0,
  };
  const bad = (k: string, why: string, v: unknown = (r as Record<string, unknown>)[k]) => {
    throw new SamplingOptionError(k, `${who}: ${k} ${why}, got ${JSON.stringify(v)}`);
  };
  if (!(r.temperature >= 0)) bad('temperature', 'must be >= 0');
  if (!Number.isInteger(r.topK) || r.topK < 0) bad('topK', 'must be an integer >= 0');
  if (!(r.topP > 0 && r.topP <= 1)) bad('topP', 'must be in (0, 1]');
  if (!(r.minP >= 0 && r.minP <= 1)) bad('minP', 'must be in [0, 1]');
  if (!(r.repetitionPenalty > 0)) bad('repetitionPenalty', 'must be > 0');
  if (!Number.isFinite(r.presencePenalty)) bad('presencePenalty', 'must be a number');
  if (!Number.isFinite(r.frequencyPenalty)) bad('frequencyPenalty', 'must be a number');
  const topLogprobs = o.topLogprobs ?? 0;
  if (!Number.isInteger(topLogprobs) || topLogprobs < 0) bad('topLogprobs', 'must be an integer >= 0', topLogprobs);
  const eos = o.eosTokenId === undefined ? [] : Array.isArray(o.eosTokenId) ? o.eosTokenId : [o.eosTokenId];
  return {
    ...r,
    eos: new Set(eos),
    stop: (o.stop ?? []).filter((s) => s.length > 0),
    wantLogprobs: !!o.logprobs || topLogprobs > 0,
    topLogprobs,
  };
}

export interface TokenLogprob { token: number; logprob: number }

export interface SampledToken {
  token: number;
  /** With logprobs: log-prob of `token` under softmax(raw logits / temperature); else null. */
  logprob: number | null;
  /** With topLogprobs: the most likely alternatives, best first (ties by lower id). */
  top: TokenLogprob[] | null;
}

/**
 * The sampling state of one sequence. `next(logits)` turns the model's raw logits for this sequence's
 * next position into a token, records it and applies eos / stop-sequence rules (finish = 'stop').
 * Length limits and cancellation are the caller's: it knows its budget and its consumers.
 */
export class SequenceSampler {
  /** Generated tokens (prompt excluded). */
  readonly tokens: number[] = [];
  readonly logprobs: number[] = [];
  readonly topLogprobs: TokenLogprob[][] = [];
  finish: FinishReason | null = null;
  private readonly seen: Set<number>;
  private readonly counts = new Map<number, number>();

  /** `rng` may be shared by several sequences (generate draws for its rows in order) or owned by one. */
  constructor(prompt: readonly number[], readonly options: ResolvedSampling, private readonly rng: SamplingRng) {
    this.seen = new Set(prompt);
  }

  next(raw: Float64Array): SampledToken {
    const o = this.options;
    const V = raw.length;
    const x = Float64Array.from(raw);
    applyRepetitionPenalty(x, this.seen, o.repetitionPenalty);
    applyPresenceFrequency(x, this.counts, o.presencePenalty, o.frequencyPenalty);
    let tok: number;
    if (o.temperature === 0) tok = argmaxRow(x);
    else {
      for (let i = 0; i < V; i++) x[i] /= o.temperature;
      applyTopK(x, o.topK);
      applyTopP(x, o.topP);
      applyMinP(x, o.minP);
      tok = sampleRow(softmaxRow(x), this.rng.next());
    }
    let lp: number | null = null;
    let top: TokenLogprob[] | null = null;
    if (o.wantLogprobs) {
      const t = o.temperature === 0 ? 1 : o.temperature;
      const l = logSoftmaxRow(Float64Array.from(raw, (v) => v / t));
      lp = l[tok];
      this.logprobs.push(lp);
      if (o.topLogprobs > 0) {
        top = topEntries(l, o.topLogprobs);
        this.topLogprobs.push(top);
      }
    }
    this.tokens.push(tok);
    this.seen.add(tok);
    this.counts.set(tok, (this.counts.get(tok) ?? 0) + 1);
    const out = this.tokens;
    if (o.eos.has(tok) || o.stop.some((s) => s.length <= out.length && s.every((v, i) => out[out.length - s.length + i] === v))) this.finish = 'stop';
    return { token: tok, logprob: lp, top };
  }
}

/** The n largest entries of a log-prob row, best first, ties by lower id. */
function topEntries(l: Float64Array, n: number): TokenLogprob[] {
  return Array.from(l.keys()).sort((i, j) => l[j] - l[i] || i - j).slice(0, n).map((i) => ({ token: i, logprob: l[i] }));
}
