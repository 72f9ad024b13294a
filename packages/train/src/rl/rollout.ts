// What PPO and GRPO share: sampling responses for a batch of prompts with generate(), laying prompt +
// response out as right-padded rows with response-only targets, scoring the responses (a reward
// model or a rule), and per-token log-probs / values of those rows under the policy, reference and critic.
import { Tensor, noGrad, slice, squeeze, tidy } from '@stellar/tensor';
import { generate, type LoraModel, type Module, type StellarForCausalLM, type StellarForCausalLMWithValueHead, type StellarForSequenceClassification } from '@stellar/nn';
import { entropyFromLogits, shiftedTargetMask, tokenLogprobs } from './logprobs';
import { withAdaptersDisabled } from './reference';

/** A prompt to roll out from: chat-templated ids (and whatever the scorer needs, e.g. a reference answer). */
export interface RolloutPrompt { ids: number[]; reference?: string | null }

/** @stellar/data's PromptDataset fits: next(n) never short, a cursor to checkpoint. */
export interface PromptSource<I extends RolloutPrompt = RolloutPrompt> {
  next(n: number): I[];
  state(): unknown;
  restore(state: unknown): void;
}

/** A rule-based reward of one response, e.g. (item, text) => isCorrect(task, text, item.reference) ? 1 : 0. */
export type RuleReward<I extends RolloutPrompt = RolloutPrompt> = (item: I, responseText: string, responseTokens: number[]) => number;

export interface SamplingConfig {
  maxNewTokens: number;
  temperature?: number;   // 1
  topK?: number;          // 0 = off
  topP?: number;          // 1 = off
  eosTokenId?: number | number[];
  padTokenId?: number;    // 0
}

/** B rows of prompt + response, right padded; targets (the model's shift) only on response tokens. */
export interface RolloutBatch {
  rows: number;
  seqLen: number;
  inputIds: Int32Array;      // (B, T)
  labels: Int32Array;        // (B, T) -100 except on response tokens
  attentionMask: Uint8Array; // (B, T)
  /** (B, T-1) 1 where the shifted target is a response token. */
  mask: Float32Array;
  promptLens: number[];
  responses: number[][];
}

export function layoutRollout(prompts: number[][], responses: number[][], padTokenId = 0): RolloutBatch {
  const B = prompts.length;
  const T = Math.max(2, ...prompts.map((p, i) => p.length + responses[i].length));
  const inputIds = new Int32Array(B * T).fill(padTokenId), labels = new Int32Array(B * T).fill(-100), attentionMask = new Uint8Array(B * T);
  for (let b = 0; b < B; b++) {
    const p = prompts[b], r = responses[b];
    inputIds.set(p, b * T); inputIds.set(r, b * T + p.length);
    labels.set(r, b * T + p.length);
    attentionMask.fill(1, b * T, b * T + p.length + r.length);
  }
  return { rows: B, seqLen: T, inputIds, labels, attentionMask, mask: shiftedTargetMask(labels, B, T), promptLens: prompts.map((p) => p.length), responses };
}

/** Samples one response per prompt (seeded) and lays the rows out; also reports the sampling time. */
export function sampleRollout(policy: StellarForCausalLM, prompts: number[][], s: SamplingConfig, seed: number): { batch: RolloutBatch; seconds: number; tokens: number } {
  if (!(Number.isInteger(s.maxNewTokens) && s.maxNewTokens >= 1)) throw new Error(`sampleRollout: maxNewTokens must be a positive integer, got ${s.maxNewTokens}`);
  const t0 = performance.now();
  const g = generate(policy, prompts, { maxNewTokens: s.maxNewTokens, temperature: s.temperature ?? 1, topK: s.topK ?? 0, topP: s.topP ?? 1, eosTokenId: s.eosTokenId, padTokenId: s.padTokenId, seed });
  const seconds = (performance.now() - t0) / 1000;
  return { batch: layoutRollout(prompts, g.tokens, s.padTokenId ?? 0), seconds, tokens: g.tokens.reduce((a, r) => a + r.length, 0) };
}

/** Rows `rows` of a rollout as model inputs. */
export function rowTensors(rb: RolloutBatch, rows: readonly number[]): { ids: Tensor; labels: Tensor; attn: Tensor; mask: Tensor } {
  const T = rb.seqLen, R = rows.length;
  const pick = <A extends Int32Array | Uint8Array | Float32Array>(a: A, w: number, make: (n: number) => A): A => {
    const out = make(R * w);
    rows.forEach((r, i) => out.set(a.subarray(r * w, r * w + w), i * w));
    return out;
  };
  return {
    ids: Tensor.fromArray(pick(rb.inputIds, T, (n) => new Int32Array(n)), [R, T], { dtype: 'int32' }),
    labels: Tensor.fromArray(pick(rb.labels, T, (n) => new Int32Array(n)), [R, T], { dtype: 'int32' }),
    attn: Tensor.fromArray(pick(rb.attentionMask, T, (n) => new Uint8Array(n)), [R, T], { dtype: 'int32' }),
    mask: Tensor.fromArray(pick(rb.mask, T - 1, (n) => new Float32Array(n)), [R, T - 1]),
  };
}

/** The rollout's reward per row: a reward model's score at the last real token, or a rule on the decoded response. */
export function scoreRollout<I extends RolloutPrompt>(rb: RolloutBatch, items: readonly I[], reward: RuleReward<I> | StellarForSequenceClassification, decode: (ids: number[]) => string): Float64Array {
  if (typeof reward === 'function') return Float64Array.from(items, (it, b) => reward(it, decode(rb.responses[b]), rb.responses[b]));
  const rows = Array.from({ length: rb.rows }, (_, i) => i);
  const was = reward.training;
  reward.eval();
  try {
    return noGrad(() => tidy(() => {
      const t = rowTensors(rb, rows);
      return squeeze(reward.forward(t.ids, { attentionMask: t.attn }).scores, -1).toFloat64();   // (B)
    }));
  } finally { reward.train(was); }
}

/** Per-token log-probs (B, T-1) of the rollout's rows under `model`, without gradients (eval mode). */
export function rolloutLogprobs(model: StellarForCausalLM, rb: RolloutBatch, temperature = 1, lora?: LoraModel<Module>): Float64Array {
  const run = () => {
    const was = model.training;
    model.eval();
    try {
      return noGrad(() => tidy(() => {
        const t = rowTensors(rb, Array.from({ length: rb.rows }, (_, i) => i));
        const logits = model.forward(t.ids, { attentionMask: t.attn }).logits;   // (B, T, V)
        return tokenLogprobs(logits, t.labels, { temperature }).toFloat64();
      }));
    } finally { model.train(was); }
  };
  return lora ? withAdaptersDisabled(lora, run) : run();
}

/** The critic's values (B, T-1) at the positions that predict each next token. */
export function criticValues(critic: StellarForCausalLMWithValueHead | StellarForSequenceClassification, rb: RolloutBatch): Float64Array {
  const was = critic.training;
  critic.eval();
  try {
    return noGrad(() => tidy(() => valuesOf(critic, rowTensors(rb, Array.from({ length: rb.rows }, (_, i) => i))).values.toFloat64()));
  } finally { critic.train(was); }
}

/** One forward of a value model on rows: values (R, T-1) and, for a shared trunk, the logits (R, T, V). */
export function valuesOf(critic: StellarForCausalLMWithValueHead | StellarForSequenceClassification, t: { ids: Tensor; attn: Tensor }): { values: Tensor; logits?: Tensor } {
  return tidy(() => {
    const T = t.ids.shape[1];
    if ('vHead' in critic) {
      const o = critic.forward(t.ids, { attentionMask: t.attn });
      return { values: slice(o.values, 1, 0, T - 1), logits: o.logits };                // (R, T-1)
    }
    return { values: slice(squeeze(critic.forward(t.ids, { attentionMask: t.attn }).tokenScores, -1), 1, 0, T - 1) };
  });
}

/** Masked mean entropy (nats per response token) of the policy's sampling distribution, for logging. */
export function meanEntropy(logits: Tensor, mask: Tensor, temperature = 1): number {
  return noGrad(() => tidy(() => {
    const T = logits.shape[1];
    const e = entropyFromLogits(slice(logits, 1, 0, T - 1), temperature).toFloat64(), m = mask.toFloat64();   // (R, T-1)
    let s = 0, n = 0;
    for (let i = 0; i < m.length; i++) if (m[i]) { s += e[i]; n++; }
    return n ? s / n : 0;
  }));
}

/** Seeded in-place shuffle (mulberry32), for minibatch order. */
export function shuffled(n: number, seed: number): number[] {
  let a = seed >>> 0;
  const r = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const o = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [o[i], o[j]] = [o[j], o[i]]; }
  return o;
}

/** Picks rows of a (B, W) host array. */
export function pickRows(a: ArrayLike<number>, w: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * w);
  rows.forEach((r, i) => { for (let k = 0; k < w; k++) out[i * w + k] = a[r * w + k]; });
  return out;
}
