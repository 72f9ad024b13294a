// Generation requests: the fields a client may send, and their validation into what the scheduler
// runs (prompt ids, sampling options, token budget, stop rules). Errors name the OpenAI field.
//
// Token budget (OpenAI's rule): prompt_tokens + max_tokens must fit the context. An explicit
// maxTokens that does not fit is rejected (context_length_exceeded, param max_tokens), never
// silently clipped; an omitted (or null) maxTokens means "until the context is full".
import { resolveSampling, SamplingOptionError, type ResolvedSampling } from '@stellar/nn';
import type { ChatMessage, Tokenizer } from '@stellar/tokenizer';
import { EngineError } from './errors';

export interface GenerationRequest {
  /** Text (encoded with the tokenizer) or token ids. Exactly one of prompt / messages. */
  prompt?: string | number[];
  /** A conversation, rendered with the tokenizer's chat template plus the assistant generation prompt. */
  messages?: ChatMessage[];
  /** New tokens at most; omitted or null = the rest of the context. */
  maxTokens?: number | null;
  temperature?: number;        // default 1; 0 = greedy
  topK?: number;               // 0 = off
  topP?: number;               // 1 = off
  minP?: number;               // 0 = off
  repetitionPenalty?: number;  // 1 = off (HF/CTRL)
  presencePenalty?: number;    // 0 = off (OpenAI), in [-2, 2]
  frequencyPenalty?: number;   // 0 = off (OpenAI), in [-2, 2]
  /** Sampling seed: the same seed, prompt and options give the same tokens, whatever else is running. */
  seed?: number;
  /** Strings that end the output; the text is cut before the first one (it never appears in the stream). */
  stop?: string | string[];
  /** Token ids that end the output (not included in the text), besides the model's EOS. */
  stopTokenIds?: number[];
  /** Keep generating past EOS (benchmarks). */
  ignoreEos?: boolean;
  /** Per-token log-probs (under softmax(logits / temperature)), and this many alternatives (<= 20). */
  logprobs?: boolean;
  topLogprobs?: number;
  /** Text prompts: add the tokenizer's BOS/EOS template (default true, like HF tokenizers). */
  addSpecialTokens?: boolean;
  /** Output text without special tokens (default true). */
  skipSpecialTokens?: boolean;
}

export interface ResolvedRequest {
  prompt: number[];
  sampling: ResolvedSampling;
  maxTokens: number;
  stopStrings: string[];
  seed: number | null;
  skipSpecialTokens: boolean;
}

export interface RequestLimits {
  vocabSize: number;
  maxContext: number;
  /** Ids that end every request unless ignoreEos. */
  eosTokenIds: number[];
  /** End-of-turn ids that also end chat requests (e.g. <|im_end|>). */
  chatEndTokenIds: number[];
}

const SNAKE: Record<string, string> = {
  temperature: 'temperature', topK: 'top_k', topP: 'top_p', minP: 'min_p', repetitionPenalty: 'repetition_penalty',
  presencePenalty: 'presence_penalty', frequencyPenalty: 'frequency_penalty', topLogprobs: 'top_logprobs',
};

const bad = (param: string, why: string, v: unknown): never => {
  throw new EngineError(`${param} ${why}, got ${JSON.stringify(v)}`, 'invalid_value', param);
};
const optNumber = (param: string, v: unknown) => { if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) bad(param, 'must be a number', v); };

/** Checks `r` and turns it into what the scheduler runs; throws EngineError naming the field. */
export function resolveRequest(r: GenerationRequest, tok: Tokenizer | null, lim: RequestLimits): ResolvedRequest {
  if (typeof r !== 'object' || r === null) bad('request', 'must be an object', r);
  for (const k of ['temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'presencePenalty', 'frequencyPenalty', 'seed', 'topLogprobs'] as const) optNumber(SNAKE[k] ?? k, r[k]);
  for (const k of ['presencePenalty', 'frequencyPenalty'] as const) if (r[k] !== undefined && Math.abs(r[k]!) > 2) bad(SNAKE[k], 'must be in [-2, 2]', r[k]);
  if (r.topLogprobs !== undefined && !(Number.isInteger(r.topLogprobs) && r.topLogprobs >= 0 && r.topLogprobs <= 20)) bad('top_logprobs', 'must be an integer in [0, 20]', r.topLogprobs);
  if (r.seed !== undefined && !Number.isSafeInteger(r.seed)) bad('seed', 'must be an integer', r.seed);

  const prompt = promptIds(r, tok, lim.vocabSize);
  const P = prompt.length;
  if (P + 1 > lim.maxContext) {
    throw new EngineError(`this model's maximum context length is ${lim.maxContext} tokens, but the prompt has ${P} tokens (at least 1 more is needed for the completion)`,
      'context_length_exceeded', r.messages !== undefined ? 'messages' : 'prompt');
  }
  let maxTokens = lim.maxContext - P;
  if (r.maxTokens !== undefined && r.maxTokens !== null) {
    if (!(Number.isInteger(r.maxTokens) && r.maxTokens >= 1)) bad('max_tokens', 'must be an integer >= 1', r.maxTokens);
    if (P + r.maxTokens > lim.maxContext) {
      throw new EngineError(`this model's maximum context length is ${lim.maxContext} tokens, but ${P + r.maxTokens} were requested (${P} in the prompt, ${r.maxTokens} in the completion); reduce the prompt or max_tokens`,
        'context_length_exceeded', 'max_tokens');
    }
    maxTokens = r.maxTokens;
  }

  const stopStrings = r.stop === undefined ? [] : typeof r.stop === 'string' ? [r.stop] : r.stop;
  if (!Array.isArray(stopStrings) || stopStrings.some((s) => typeof s !== 'string')) bad('stop', 'must be a string or an array of strings', r.stop);
  const stopIds = r.stopTokenIds ?? [];
  if (!Array.isArray(stopIds) || stopIds.some((t) => !(Number.isInteger(t) && t >= 0 && t < lim.vocabSize))) bad('stop_token_ids', `must be an array of token ids in [0, ${lim.vocabSize})`, r.stopTokenIds);
  const eos = r.ignoreEos ? [] : [...lim.eosTokenIds, ...(r.messages !== undefined ? lim.chatEndTokenIds : [])];

  let sampling: ResolvedSampling;
  try {
    sampling = resolveSampling({
      temperature: r.temperature, topK: r.topK, topP: r.topP, minP: r.minP, repetitionPenalty: r.repetitionPenalty,
      presencePenalty: r.presencePenalty, frequencyPenalty: r.frequencyPenalty,
      eosTokenId: [...new Set([...eos, ...stopIds])], logprobs: r.logprobs, topLogprobs: r.topLogprobs,
    }, 'request');
  } catch (e) {
    if (!(e instanceof SamplingOptionError)) throw e;
    const param = SNAKE[e.option] ?? e.option;
    throw new EngineError(e.message.replace(/^request: \w+/, param), 'invalid_value', param);
  }
  return { prompt, sampling, maxTokens, stopStrings: stopStrings.filter((s) => s.length > 0), seed: r.seed ?? null, skipSpecialTokens: r.skipSpecialTokens ?? true };
}

function promptIds(r: GenerationRequest, tok: Tokenizer | null, V: number): number[] {
  const needTok = (param: string) => {
    if (!tok) throw new EngineError(`${param} as text needs a tokenizer, and this model directory has none (send token ids)`, 'invalid_value', param);
    return tok;
  };
  if (r.prompt !== undefined && r.messages !== undefined) bad('messages', 'cannot be combined with prompt', '...');
  let ids: number[];
  if (r.messages !== undefined) {
    if (!Array.isArray(r.messages) || r.messages.length === 0) bad('messages', 'must be a non-empty array of {role, content}', r.messages);
    try {
      ids = needTok('messages').encodeChat(r.messages, { addGenerationPrompt: true }).ids;
    } catch (e) {
      if (e instanceof EngineError) throw e;
      throw new EngineError(`messages: ${(e as Error).message}`, 'invalid_value', 'messages');
    }
  } else if (typeof r.prompt === 'string') {
    ids = needTok('prompt').encode(r.prompt, { addSpecialTokens: r.addSpecialTokens ?? true });
  } else if (Array.isArray(r.prompt)) {
    ids = r.prompt;
    const badId = ids.find((t) => !(Number.isInteger(t) && t >= 0 && t < V));
    if (badId !== undefined) bad('prompt', `must hold token ids in [0, ${V})`, badId);
  } else if (r.prompt === undefined) {
    throw new EngineError('the request needs a prompt or messages', 'missing_prompt', 'prompt');
  } else {
    return bad('prompt', 'must be a string or an array of token ids', r.prompt);
  }
  if (ids.length === 0) bad(r.messages !== undefined ? 'messages' : 'prompt', 'encodes to no tokens', r.prompt ?? r.messages);
  return [...ids];
}
