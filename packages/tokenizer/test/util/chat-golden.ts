// Shared by the chat tests: the transformers golden fixture (tools/fixtures/make_chat_golden.py) and mask helpers.
import fs from 'node:fs';
import path from 'node:path';
import type { ChatMessage, Tokenizer } from '@stellar/tokenizer';
import { FIXTURES } from './fixtures';

export interface ChatCase {
  name: string;
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  text: string;
  ids: number[];
  assistant_mask: number[];
}
export const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'chat-golden.json'), 'utf8')) as {
  format: string;
  version: number;
  tokenizer: string;
  template: string;
  generation_template: string;
  cases: ChatCase[];
  straddle: { template: string; generation_template: string; cases: ChatCase[] };
  real: Record<'llama3' | 'qwen3', { tokenizer_config_sha256: string; cases: RealCase[] }>;
};
if (golden.format !== 'stellar-chat-golden' || golden.version !== 1) throw new Error(`chat-golden.json is ${golden.format} v${golden.version}, expected stellar-chat-golden v1`);

export interface RealCase extends Omit<ChatCase, 'assistant_mask'> {
  kwargs: { tools?: unknown[]; [k: string]: unknown };
  assistant_mask?: number[];
}

/** decode() of the masked tokens: what an SFT loss trains on. */
export function maskedText(tok: Tokenizer, ids: number[], mask: number[]): string {
  return tok.decode(ids.filter((_, k) => mask[k] === 1));
}

/** The training target: every assistant content (as the template shows it) followed by its end-of-turn marker. */
export function assistantTargets(messages: ChatMessage[], end: string, f = (s: string) => s): string {
  return messages.filter((m) => m.role === 'assistant').map((m) => f(m.content) + end).join('');
}
