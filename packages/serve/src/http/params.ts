// OpenAI request bodies (chat and legacy completions) checked field by field and turned into the engine's
// GenerationRequest. Every refusal is a 400 naming the field; fields we cannot honour (n > 1, tools,
// several prompts at once, echo, ...) are refused rather than ignored.
import type { ChatMessage } from '@stellar/tokenizer';
import type { GenerationRequest } from '../request';
import { invalid } from './errors';

type Body = Record<string, unknown>;

export interface ParsedRequest {
  model: string | null;
  request: GenerationRequest;
  stream: boolean;
  includeUsage: boolean;
  /** chat: logprobs with this many alternatives; completions: `logprobs: k`. null = no logprobs. */
  logprobs: number | null;
}

const isObj = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (b: Body, k: string) => b[k] !== undefined && b[k] !== null;

function num(b: Body, k: string, lo: number, hi: number, integer = false): number | undefined {
  if (!present(b, k)) return undefined;
  const v = b[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(k, `${k} must be a number, got ${JSON.stringify(v)}`, 'invalid_type');
  if (integer && !Number.isInteger(v)) throw invalid(k, `${k} must be an integer, got ${v}`);
  if (v < lo || v > hi) throw invalid(k, `${k} must be in [${lo}, ${hi}], got ${v}`);
  return v;
}

function bool(b: Body, k: string): boolean | undefined {
  if (!present(b, k)) return undefined;
  if (typeof b[k] !== 'boolean') throw invalid(k, `${k} must be a boolean, got ${JSON.stringify(b[k])}`, 'invalid_type');
  return b[k] as boolean;
}

function common(b: Body): { model: string | null; request: GenerationRequest; stream: boolean; includeUsage: boolean } {
  if (!isObj(b)) throw invalid('body', 'the request body must be a JSON object', 'invalid_type');
  if (present(b, 'model') && typeof b.model !== 'string') throw invalid('model', `model must be a string, got ${JSON.stringify(b.model)}`, 'invalid_type');
  const n = num(b, 'n', 1, 128, true);
  if (n !== undefined && n !== 1) throw invalid('n', `n=${n} is not supported: this server returns one choice per request (n must be 1)`, 'unsupported_value');
  for (const k of ['tools', 'functions', 'tool_choice', 'function_call', 'response_format']) {
    if (present(b, k)) throw invalid(k, `${k} is not supported by this server`, 'unsupported_parameter');
  }
  if (present(b, 'logit_bias') && !(isObj(b.logit_bias) && Object.keys(b.logit_bias).length === 0)) throw invalid('logit_bias', 'logit_bias is not supported by this server', 'unsupported_parameter');
  const stream = bool(b, 'stream') ?? false;
  let includeUsage = false;
  if (present(b, 'stream_options')) {
    if (!isObj(b.stream_options)) throw invalid('stream_options', 'stream_options must be an object', 'invalid_type');
    if (!stream) throw invalid('stream_options', 'stream_options is only allowed when stream is true');
    includeUsage = bool(b.stream_options, 'include_usage') ?? false;
  }
  let stop: string | string[] | undefined;
  if (present(b, 'stop')) {
    const s = b.stop;
    if (!(typeof s === 'string' || (Array.isArray(s) && s.every((x) => typeof x === 'string')))) throw invalid('stop', 'stop must be a string or an array of strings', 'invalid_type');
    stop = s as string | string[];
  }
  const seed = num(b, 'seed', -(2 ** 53), 2 ** 53, true);
  const request: GenerationRequest = {
    temperature: num(b, 'temperature', 0, 2),
    topP: num(b, 'top_p', 0, 1),
    presencePenalty: num(b, 'presence_penalty', -2, 2),
    frequencyPenalty: num(b, 'frequency_penalty', -2, 2),
    // extensions (vLLM's names)
    topK: num(b, 'top_k', -1, 1e9, true),
    minP: num(b, 'min_p', 0, 1),
    repetitionPenalty: num(b, 'repetition_penalty', 0, 1e6),
    ignoreEos: bool(b, 'ignore_eos'),
    seed: seed === undefined ? undefined : Math.abs(seed),
    stop,
  };
  if (request.topK === -1) request.topK = 0;   // vLLM: -1 = off
  for (const k of Object.keys(request) as (keyof GenerationRequest)[]) if (request[k] === undefined) delete request[k];
  return { model: (b.model as string | undefined) ?? null, request, stream, includeUsage };
}

function maxTokens(b: Body, keys: string[]): number | undefined {
  for (const k of keys) {
    const v = num(b, k, 1, 2 ** 31, true);
    if (v !== undefined) return v;
  }
  return undefined;
}

function messageContent(m: Body, i: number): string {
  const c = m.content;
  if (typeof c === 'string') return c;
  if (c === null || c === undefined) return '';
  if (Array.isArray(c)) {
    return c.map((p, j) => {
      if (!isObj(p) || p.type !== 'text' || typeof p.text !== 'string') throw invalid(`messages[${i}].content[${j}]`, 'only text content parts ({"type": "text", "text": ...}) are supported', 'unsupported_value');
      return p.text;
    }).join('');
  }
  throw invalid(`messages[${i}].content`, 'content must be a string or an array of text parts', 'invalid_type');
}

/** POST /v1/chat/completions. */
export function parseChat(b: Body): ParsedRequest {
  const c = common(b);
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw invalid('messages', 'messages must be a non-empty array of {role, content}', b.messages === undefined ? 'missing_required_parameter' : 'invalid_type');
  const messages: ChatMessage[] = b.messages.map((m, i) => {
    if (!isObj(m)) throw invalid(`messages[${i}]`, 'each message must be an object {role, content}', 'invalid_type');
    if (typeof m.role !== 'string' || !['system', 'developer', 'user', 'assistant'].includes(m.role)) {
      throw invalid(`messages[${i}].role`, `role must be one of system, developer, user, assistant, got ${JSON.stringify(m.role)}`);
    }
    return { role: m.role === 'developer' ? 'system' : m.role, content: messageContent(m, i) } as ChatMessage;
  });
  const lp = bool(b, 'logprobs') ?? false;
  const top = num(b, 'top_logprobs', 0, 20, true);
  if (top !== undefined && !lp) throw invalid('top_logprobs', 'top_logprobs needs logprobs: true');
  const mt = maxTokens(b, ['max_completion_tokens', 'max_tokens']);
  const request: GenerationRequest = { ...c.request, messages, ...(mt !== undefined ? { maxTokens: mt } : {}) };
  if (lp) { request.logprobs = true; request.topLogprobs = top ?? 0; }
  return { ...c, request, logprobs: lp ? top ?? 0 : null };
}

/** Completions' default token budget when max_tokens is omitted (OpenAI's legacy default). */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** POST /v1/completions. */
export function parseCompletion(b: Body): ParsedRequest {
  const c = common(b);
  let prompt: string | number[];
  const p = b.prompt;
  const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((t) => typeof t === 'number');
  if (typeof p === 'string') prompt = p;
  else if (isIds(p)) prompt = p;
  else if (Array.isArray(p) && p.length === 1 && (typeof p[0] === 'string' || isIds(p[0]))) prompt = p[0] as string | number[];
  else if (Array.isArray(p) && p.length > 1 && p.every((x) => typeof x === 'string' || isIds(x))) {
    throw invalid('prompt', `several prompts in one request (${p.length}) are not supported: send one prompt per request`, 'unsupported_value');
  } else if (p === undefined || p === null) throw invalid('prompt', 'prompt is required', 'missing_required_parameter');
  else throw invalid('prompt', 'prompt must be a string, an array of token ids, or an array holding one of those', 'invalid_type');
  if (bool(b, 'echo')) throw invalid('echo', 'echo is not supported by this server', 'unsupported_parameter');
  if (present(b, 'suffix')) throw invalid('suffix', 'suffix is not supported by this server', 'unsupported_parameter');
  const bestOf = num(b, 'best_of', 1, 128, true);
  if (bestOf !== undefined && bestOf !== 1) throw invalid('best_of', 'best_of > 1 is not supported by this server', 'unsupported_value');
  const lp = num(b, 'logprobs', 0, 20, true);
  const request: GenerationRequest = { ...c.request, prompt, maxTokens: maxTokens(b, ['max_tokens']) ?? COMPLETIONS_DEFAULT_MAX_TOKENS };
  if (lp !== undefined) { request.logprobs = true; request.topLogprobs = lp; }
  return { ...c, request, logprobs: lp ?? null };
}
