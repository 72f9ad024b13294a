// Conversation records in the seed projects' shapes, normalised to {role, content} messages:
// `{"conversations": [{"role", "content"}]}` or ShareGPT/Belle `{"from", "value"}` (human/gpt/system),
// optionally with a system prompt prepended. Errors name the record and the message index.
export interface Message { role: 'system' | 'user' | 'assistant'; content: string; [key: string]: unknown }

const ROLES: Record<string, Message['role']> = {
  system: 'system', user: 'user', assistant: 'assistant',
  human: 'user', gpt: 'assistant', bot: 'assistant', model: 'assistant', chatgpt: 'assistant',
};

/** One record -> messages; throws with a reason (the reader adds file:line). */
export function normalizeConversation(record: unknown, opts: { systemPrompt?: string } = {}): Message[] {
  const r = record as Record<string, unknown> | null;
  const conv = Array.isArray(record) ? record : r?.conversations ?? r?.messages;
  if (!Array.isArray(conv)) throw new Error('expected {"conversations": [...]} (or "messages", or a bare list of messages)');
  const out: Message[] = conv.map((m, i) => {
    if (typeof m !== 'object' || m === null) throw new Error(`message ${i} is not an object`);
    const o = m as Record<string, unknown>;
    const who = (o.role ?? o.from) as unknown;
    const content = (o.content ?? o.value) as unknown;
    if (typeof who !== 'string') throw new Error(`message ${i} has no "role" (or "from")`);
    const role = ROLES[who.toLowerCase()];
    if (!role) throw new Error(`message ${i} has role "${who}"; allowed: ${Object.keys(ROLES).join(', ')}`);
    if (typeof content !== 'string') throw new Error(`message ${i} has no string "content" (or "value")`);
    return { role, content };
  });
  if (!out.some((m) => m.role === 'assistant')) throw new Error('the conversation has no assistant message (nothing to learn)');
  if (opts.systemPrompt && out[0]?.role !== 'system') out.unshift({ role: 'system', content: opts.systemPrompt });
  return out;
}
