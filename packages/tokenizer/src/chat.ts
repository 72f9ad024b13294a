// Chat templates: render a conversation with the tokenizer's Jinja `chat_template`, and encode it with the SFT loss mask.
import type { Template } from '@huggingface/jinja';
import { compileChatTemplate, JINJA_FIXES } from './chat-jinja';
import { CHATML_TEMPLATE } from './templates/chatml';
import type { Tokenizer } from './tokenizer';

export { CHATML_TEMPLATE } from './templates/chatml';

/** One chat turn. Extra fields (`name`, `tool_calls`, ...) are passed to the template untouched. */
export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the header that starts an assistant turn (HF `add_generation_prompt`). Default false. */
  addGenerationPrompt?: boolean;
  /** Tool JSON schemas, passed as `tools` (null when absent, as transformers does). */
  tools?: unknown[] | null;
  /** Documents for RAG templates, passed as `documents`. */
  documents?: unknown[] | null;
  /** Extra template variables (e.g. `enable_thinking`); they override the special-token variables. */
  vars?: Record<string, unknown>;
  /** Use this template instead of the tokenizer's. */
  chatTemplate?: string;
}

export interface ChatEncoding {
  /** The rendered conversation, exactly what `ids` encode. */
  text: string;
  ids: number[];
  /** 1 on tokens of assistant message contents and the end-of-turn token after each, 0 elsewhere. */
  assistantMask: number[];
}

const utf8 = new TextEncoder();
const compiled = new Map<string, Template>();
const COMPILED_LIMIT = 32;

/** The template `tok` renders with: its own `chat_template`, else the shipped ChatML default. */
export function chatTemplateOf(tok: Tokenizer): string {
  return tok.chatTemplate ?? CHATML_TEMPLATE;
}

/** Renders `messages` with the tokenizer's chat template (ChatML when it has none), like transformers' `apply_chat_template(tokenize=False)`. */
export function applyChatTemplate(tok: Tokenizer, messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
  validateMessages(messages);
  return render(tok, messages, opts, opts.addGenerationPrompt ?? false);
}

/**
 * Renders and encodes a conversation. The mask marks what an SFT loss should train on: each assistant message's
 * content and the end-of-turn token right after it (`<|im_end|>`, `<|eot_id|>`, ...), so the model learns to stop;
 * role headers, system and user turns and the generation prompt are 0. A token that straddles a content boundary
 * is marked 1. Works for any template whose turns render in order (see `assistantSpans`).
 */
export function encodeChat(tok: Tokenizer, messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): ChatEncoding {
  validateMessages(messages);
  // The tokenizer NFC-normalizes its input; doing it up front keeps character spans valid after normalization.
  const msgs = tok.normalizer === 'NFC' ? messages.map((m) => ({ ...m, content: m.content.normalize('NFC') })) : messages;
  const text = render(tok, msgs, opts, opts.addGenerationPrompt ?? false);
  const spans = assistantSpans(tok, msgs, opts, text);
  const ids = tok.encode(text, { addSpecialTokens: false }); // chat templates write their own BOS, as transformers assumes

  // Byte ranges of the spans, to compare with the byte ranges of byte-level tokens.
  const byteAt = (charIdx: number) => utf8.encode(text.slice(0, charIdx)).length;
  const byteSpans = spans.filter(([s, e]) => e > s).map(([s, e]) => [byteAt(s), byteAt(e)] as const);
  const addedLen = new Map(tok.addedTokens.map((t) => [t.id, utf8.encode(t.content).length]));
  const assistantMask = new Array<number>(ids.length).fill(0);
  let pos = 0;
  ids.forEach((id, k) => {
    // A byte-level vocab token has one character per byte.
    const len = addedLen.get(id) ?? tok.idToTokenString(id)!.length;
    const end = pos + len;
    if (byteSpans.some(([s, e]) => pos < e && end > s)) assistantMask[k] = 1;
    pos = end;
  });
  const total = utf8.encode(text).length;
  if (pos !== total) throw new Error(`chat: tokens cover ${pos} bytes but the rendered text has ${total} (normalization changed the text?); cannot build the assistant mask`);
  return { text, ids, assistantMask };
}

/**
 * Character spans `[start, end)` in `text` (the full rendering) of each assistant message's content plus the added
 * token that closes its turn. Found without sentinels, from renderings of conversation prefixes:
 * - the conversation before message i, with the generation prompt, is a prefix of `text` that ends where the
 *   assistant content starts (ChatML, Llama-3). If the content is not there (a template that adds an empty
 *   `<think></think>` block, or a generation prompt unlike the turn header), it is taken from the part of `text` that
 *   the rendering up to message i agrees with (its last occurrence), else first after the earlier messages.
 *   Contents are matched as given, or trimmed at either end (templates that `trim` or `lstrip` them).
 * - the added token right after the content is the end-of-turn marker, unless it is the token that opens the
 *   message's own header (then it is the next turn's header, in a template without an end marker).
 * Templates that render earlier messages differently once later ones follow, or drop or rewrite the content, are
 * refused rather than guessed.
 */
export function assistantSpans(tok: Tokenizer, messages: readonly ChatMessage[], opts: ChatTemplateOptions, text: string): [number, number][] {
  const added = [...tok.addedTokens].map((t) => t.content).sort((a, b) => b.length - a.length);
  const spans: [number, number][] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const prefix = (gen: boolean) => {
      try {
        return render(tok, messages.slice(0, i), opts, gen);
      } catch (e) {
        // Some templates refuse an empty conversation; an assistant message that opens it then has nothing before it.
        if (i === 0) return '';
        throw e;
      }
    };
    const withPrompt = prefix(true);
    const without = withPrompt === '' ? '' : prefix(false);
    const headerStart = text.startsWith(without) ? without.length : -1;
    const from = text.startsWith(withPrompt) ? withPrompt.length : headerStart;
    if (from < 0) throw new Error(`chat: the template renders messages[0..${i - 1}] differently once later messages follow (it rewrites past turns); cannot build the assistant mask`);
    const variants = contentVariants(m.content);
    // The common case: the content sits right where the generation prompt ends.
    let found: { c: string; at: number } | null = null;
    const direct = variants.find((c) => text.startsWith(c, from));
    if (direct !== undefined) found = { c: direct, at: from };
    else {
      const upTo = render(tok, messages.slice(0, i + 1), opts, false);
      const agreed = commonPrefixLength(upTo, text);
      // A content the rendering up to message i does not show at all was dropped, not moved: do not look for it later on.
      if (variants.some((c) => upTo.indexOf(c, Math.min(from, Math.max(headerStart, 0))) >= 0)) {
        for (const c of variants) {
          let at = text.lastIndexOf(c, agreed - c.length);
          if (at < from) at = text.indexOf(c, from);
          if (at >= from) {
            found = { c, at };
            break;
          }
        }
      }
    }
    if (!found) throw new Error(`chat: the template changes the content of messages[${i}] (assistant); cannot locate it to build the assistant mask`);
    let end = found.at + found.c.length;
    const header = headerStart >= 0 ? text.slice(headerStart, found.at) : '';
    const opener = added.map((t) => [t, header.indexOf(t)] as const).filter(([, k]) => k >= 0).sort((a, b) => a[1] - b[1])[0]?.[0];
    const marker = added.find((t) => text.startsWith(t, end));
    if (marker !== undefined && marker !== opener) end += marker.length;
    spans.push([found.at, end]);
  });
  return spans;
}

/** The content as given, then trimmed at the start, the end, or both; longest first so the most faithful match wins. */
function contentVariants(content: string): string[] {
  const v = [content, content.trimStart(), content.trimEnd(), content.trim()];
  return [...new Set(v)].sort((a, b) => b.length - a.length);
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

function render(tok: Tokenizer, messages: readonly ChatMessage[], opts: ChatTemplateOptions, addGenerationPrompt: boolean): string {
  const source = opts.chatTemplate ?? chatTemplateOf(tok);
  let template = compiled.get(source);
  if (!template) {
    try {
      template = compileChatTemplate(source);
    } catch (e) {
      throw new Error(`chat: cannot parse the chat template: ${(e as Error).message}`);
    }
    if (compiled.size >= COMPILED_LIMIT) compiled.clear();
    compiled.set(source, template);
  }
  // Like transformers: the special tokens that are set, then the conversation, then caller variables on top.
  const vars: Record<string, unknown> = {};
  if (tok.bosToken !== null) vars.bos_token = tok.bosToken;
  if (tok.eosToken !== null) vars.eos_token = tok.eosToken;
  if (tok.padToken !== null) vars.pad_token = tok.padToken;
  Object.assign(vars, {
    messages,
    tools: opts.tools ?? null,
    documents: opts.documents ?? null,
    add_generation_prompt: addGenerationPrompt,
    ...opts.vars,
    ...JINJA_FIXES,
  });
  try {
    return template.render(vars);
  } catch (e) {
    throw new Error(`chat: rendering the chat template failed: ${(e as Error).message}`);
  }
}

/** Refuses anything that is not a non-empty list of `{role: string, content: string}`, naming the bad message. */
function validateMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new Error('chat: messages must be an array of {role, content}');
  if (messages.length === 0) throw new Error('chat: messages is empty; a conversation needs at least one message');
  messages.forEach((m: unknown, i) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Error(`chat: messages[${i}] must be an object {role, content}, got ${describe(m)}`);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || role.length === 0) throw new Error(`chat: messages[${i}].role must be a non-empty string, got ${describe(role)}`);
    if (typeof content !== 'string') throw new Error(`chat: messages[${i}].content must be a string, got ${describe(content)}`);
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v;
}
