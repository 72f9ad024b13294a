// OpenAI response and stream-chunk shapes for chat and legacy completions, built from engine events.
// Token strings for log-probs come from a per-server cache of single-token decodes (see server.ts).
import type { TokenEvent, Usage } from '../stream';

export type Kind = 'chat' | 'completion';

export interface Head { id: string; created: number; model: string }

export interface TokenText { text: string; bytes: number[] }

export const usageJSON = (u: Usage) => ({ prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.totalTokens });

/** OpenAI's finish reasons: ours are the same words ('cancelled' never reaches a client that is still there). */
export const finishJSON = (r: string): string => r;

/** Chat: one `logprobs.content` entry. */
export function chatLogprob(ev: TokenEvent, str: (id: number) => TokenText) {
  const t = str(ev.token);
  return {
    token: t.text, logprob: ev.logprob ?? 0, bytes: t.bytes,
    top_logprobs: (ev.top ?? []).map((a) => { const s = str(a.token); return { token: s.text, logprob: a.logprob, bytes: s.bytes }; }),
  };
}

/** Completions: the column-wise `logprobs` object, filled one token at a time. */
export class CompletionLogprobs {
  readonly tokens: string[] = [];
  readonly token_logprobs: number[] = [];
  readonly top_logprobs: Record<string, number>[] = [];
  readonly text_offset: number[] = [];
  add(ev: TokenEvent, str: (id: number) => TokenText, offset: number): void {
    this.tokens.push(str(ev.token).text);
    this.token_logprobs.push(ev.logprob ?? 0);
    const top: Record<string, number> = {};
    for (const a of ev.top ?? []) { const s = str(a.token).text; if (!(s in top)) top[s] = a.logprob; }
    this.top_logprobs.push(top);
    this.text_offset.push(offset);
  }
}

export function chatResponse(h: Head, text: string, finish: string, usage: Usage, logprobs: ReturnType<typeof chatLogprob>[] | null) {
  return {
    id: h.id, object: 'chat.completion', created: h.created, model: h.model, system_fingerprint: null,
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: logprobs ? { content: logprobs, refusal: null } : null, finish_reason: finishJSON(finish) }],
    usage: usageJSON(usage),
  };
}

export function completionResponse(h: Head, text: string, finish: string, usage: Usage, logprobs: CompletionLogprobs | null) {
  return {
    id: h.id, object: 'text_completion', created: h.created, model: h.model, system_fingerprint: null,
    choices: [{ index: 0, text, logprobs: logprobs ?? null, finish_reason: finishJSON(finish) }],
    usage: usageJSON(usage),
  };
}

/** A chat stream chunk; `usage: null` on every chunk when the client asked for the usage chunk (as OpenAI does). */
export function chatChunk(h: Head, delta: Record<string, unknown>, finish: string | null, logprobs: unknown, withUsage: boolean) {
  return {
    id: h.id, object: 'chat.completion.chunk', created: h.created, model: h.model, system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: logprobs ?? null, finish_reason: finish }],
    ...(withUsage ? { usage: null } : {}),
  };
}

export function completionChunk(h: Head, text: string, finish: string | null, logprobs: unknown, withUsage: boolean) {
  return {
    id: h.id, object: 'text_completion', created: h.created, model: h.model, system_fingerprint: null,
    choices: [{ index: 0, text, logprobs: logprobs ?? null, finish_reason: finish }],
    ...(withUsage ? { usage: null } : {}),
  };
}

/** The last chunk when stream_options.include_usage: no choices, the usage. */
export function usageChunk(kind: Kind, h: Head, usage: Usage) {
  return { id: h.id, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: h.created, model: h.model, system_fingerprint: null, choices: [], usage: usageJSON(usage) };
}
