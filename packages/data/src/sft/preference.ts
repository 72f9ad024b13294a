// Preference pairs {prompt, chosen, rejected} (prompt as text or as messages) for reward-model and
// DPO training, and prompt sets for PPO/GRPO rollouts with optional reference answers. Each pair is
// encoded as two SFT-style samples (labels on the response only) sharing the same prompt tokens.
import type { Tokenizer } from '@stellar/tokenizer';
import { normalizeConversation, type Message } from './conversations';
import { encodeSft } from './sft-dataset';

export interface PreferenceRecord { prompt: string | Message[]; chosen: string; rejected: string }
export interface EncodedPair {
  chosen: { ids: number[]; labels: number[] };
  rejected: { ids: number[]; labels: number[] };
  /** Tokens of the shared prompt (rendered with the generation prompt). */
  promptLength: number;
}

function promptMessages(p: unknown): Message[] {
  if (typeof p === 'string') return [{ role: 'user', content: p }];
  if (Array.isArray(p)) return normalizeConversation([...p, { role: 'assistant', content: '' }]).slice(0, -1);
  throw new Error('"prompt" must be a string or a list of messages');
}

/** Validates a record's shape; throws with a reason (the reader adds file:line). */
export function parsePreference(record: unknown): PreferenceRecord {
  const r = record as Record<string, unknown> | null;
  if (!r || typeof r !== 'object') throw new Error('expected an object {prompt, chosen, rejected}');
  for (const k of ['chosen', 'rejected'] as const) if (typeof r[k] !== 'string') throw new Error(`"${k}" must be a string`);
  if (r.chosen === r.rejected) throw new Error('"chosen" and "rejected" are identical');
  return { prompt: promptMessages(r.prompt), chosen: r.chosen as string, rejected: r.rejected as string };
}

export function encodePreference(tok: Tokenizer, rec: PreferenceRecord, maxLength: number): EncodedPair | null {
  const prompt = promptMessages(rec.prompt);
  const promptIds = tok.encodeChat(prompt, { addGenerationPrompt: true }).ids;
  const enc = (answer: string) => encodeSft(tok, [...prompt, { role: 'assistant', content: answer }]);
  const chosen = enc(rec.chosen), rejected = enc(rec.rejected);
  for (const s of [chosen, rejected]) {
    if (s.ids.length > maxLength) { s.ids.length = maxLength; s.labels.length = maxLength; }
    if (!s.labels.slice(1).some((l) => l !== -100)) return null;   // the response was cut away entirely
  }
  return { chosen, rejected, promptLength: promptIds.length };
}

export interface PromptRecord { messages: Message[]; reference: string | null }

/** A prompt-set record: {prompt: text | messages, reference?/answer?} -> messages to roll out from. */
export function parsePrompt(record: unknown): PromptRecord {
  const r = record as Record<string, unknown> | null;
  if (!r || typeof r !== 'object' || r.prompt === undefined) throw new Error('expected an object {prompt, reference?}');
  const ref = r.reference ?? r.answer ?? null;
  if (ref !== null && typeof ref !== 'string') throw new Error('"reference" must be a string');
  return { messages: promptMessages(r.prompt), reference: ref as string | null };
}
