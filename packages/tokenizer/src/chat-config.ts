// The `chat_template` field of tokenizer_config.json (and transformers' chat_template.jinja file): parse on load, choose what to save.
import fs from 'node:fs';
import path from 'node:path';
import { CHATML_MARKERS, CHATML_TEMPLATE } from './templates/chatml';
import type { Tokenizer } from './tokenizer';

/**
 * tokenizer_config.json `chat_template`: a string, or HF's list of `{name, template}` of which we take "default".
 * Anything else is refused so a broken config does not silently fall back to ChatML.
 */
export function parseChatTemplateField(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const names: string[] = [];
    for (const [i, t] of v.entries()) {
      if (typeof t !== 'object' || t === null || typeof (t as { name?: unknown }).name !== 'string' || typeof (t as { template?: unknown }).template !== 'string') {
        throw new Error(`tokenizer_config.json: chat_template[${i}] must be {"name": string, "template": string}`);
      }
      const { name, template } = t as { name: string; template: string };
      if (name === 'default') return template;
      names.push(name);
    }
    throw new Error(`tokenizer_config.json: chat_template lists no "default" template (has ${JSON.stringify(names)})`);
  }
  throw new Error(`tokenizer_config.json: chat_template must be a string or a list of {name, template}, got ${typeof v}`);
}

/**
 * transformers >= 4.43 saves the template as chat_template.jinja next to tokenizer_config.json, and that file wins
 * over the config field when loading; we read it the same way.
 */
export function withChatTemplateFile(dir: string, cfg: Record<string, unknown>, maxBytes: number): Record<string, unknown> {
  const file = path.join(dir, 'chat_template.jinja');
  if (!fs.existsSync(file)) return cfg;
  const size = fs.statSync(file).size;
  if (size > maxBytes) throw new Error(`tokenizer: ${file} is ${size} bytes, over the ${maxBytes}-byte limit`);
  return { ...cfg, chat_template: fs.readFileSync(file, 'utf8') };
}

/**
 * The template to write: the tokenizer's own, else ChatML when the tokenizer has the ChatML markers as added tokens
 * (so a Stellar-trained tokenizer directory works with transformers' apply_chat_template), else none.
 */
export function chatTemplateToSave(tok: Tokenizer): { chat_template?: string } {
  if (tok.chatTemplate !== null) return { chat_template: tok.chatTemplate };
  const added = new Set(tok.addedTokens.map((t) => t.content));
  return CHATML_MARKERS.every((m) => added.has(m)) ? { chat_template: CHATML_TEMPLATE } : {};
}
