// Chat templates: ChatML renderings equal transformers', encodeChat's assistant mask equals transformers'
// return_assistant_tokens_mask, and the mask holds for multi-turn, unicode and a hand-written Llama-3 template.
import path from 'node:path';
import { CHATML_TEMPLATE, ChatMessage, Tokenizer, applyChatTemplate, encodeChat, loadTokenizer, trainBpe } from '@stellar/tokenizer';
import { golden, maskedText, assistantTargets } from './util/chat-golden';
import { FIXTURES, corpusLines } from './util/fixtures';

describe('against transformers (tools/fixtures/make_chat_golden.py)', () => {
  // The fixture tokenizer directory has no tokenizer_config.json, so no template: the ChatML default applies.
  const tok = loadTokenizer(path.join(FIXTURES, golden.tokenizer));

  it('is the fixture format we expect and was rendered with the template we ship', () => {
    expect([golden.format, golden.version]).toEqual(['stellar-chat-golden', 1]);
    expect(tok.chatTemplate).toBeNull();
    expect(golden.template).toBe(CHATML_TEMPLATE);
  });

  test.each(golden.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const opts = { addGenerationPrompt: c.add_generation_prompt };
    expect(applyChatTemplate(tok, c.messages, opts)).toBe(c.text);
    const enc = encodeChat(tok, c.messages, opts);
    expect(enc.text).toBe(c.text);
    expect(enc.ids).toEqual(c.ids);
    expect(enc.ids).toEqual(tok.encode(c.text));
    expect(enc.assistantMask).toEqual(c.assistant_mask);
    expect(maskedText(tok, enc.ids, enc.assistantMask)).toBe(assistantTargets(c.messages, '<|im_end|>'));
    // {% generation %} blocks are rendered away by the Jinja engine and the spans still come out the same.
    expect(encodeChat(tok, c.messages, { ...opts, chatTemplate: golden.generation_template }).assistantMask).toEqual(c.assistant_mask);
  });

  test.each(golden.straddle.cases.map((c) => [c.name, c] as const))('a token straddling the content start is masked: %s', (_name, c) => {
    const enc = encodeChat(tok, c.messages, { addGenerationPrompt: c.add_generation_prompt, chatTemplate: golden.straddle.template });
    expect(enc.text).toBe(c.text);
    expect(enc.ids).toEqual(c.ids);
    expect(enc.assistantMask).toEqual(c.assistant_mask);
    // The first masked token ("(n") also holds the end of the header, so the masked text is longer than the content.
    const content = c.messages[c.messages.length - 1].content;
    const masked = maskedText(tok, enc.ids, enc.assistantMask);
    expect(masked.length).toBeGreaterThan(content.length);
    expect(masked.endsWith(content)).toBe(true);
  });
});

describe('a Stellar-trained tokenizer with the default ChatML template', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await trainBpe(corpusLines(), { vocabSize: 400, eosToken: '<|endoftext|>', padToken: '<|pad|>' });
  });
  const system: ChatMessage = { role: 'system', content: 'You answer in one line.' };
  const convo: ChatMessage[] = [
    system,
    { role: 'user', content: 'Where is the lighthouse?' },
    { role: 'assistant', content: 'On the cliff, above the harbour.' },
    { role: 'user', content: '灯塔在哪里？' },
    { role: 'assistant', content: '在悬崖上。🌊⚓ 👍🏽' },
    { role: 'user', content: 'Thanks!' },
    { role: 'assistant', content: 'Any time.\nGood night.' },
  ];

  it('renders ChatML', () => {
    expect(applyChatTemplate(tok, convo.slice(0, 3))).toBe(
      '<|im_start|>system\nYou answer in one line.<|im_end|>\n' +
        '<|im_start|>user\nWhere is the lighthouse?<|im_end|>\n' +
        '<|im_start|>assistant\nOn the cliff, above the harbour.<|im_end|>\n',
    );
    expect(applyChatTemplate(tok, convo.slice(0, 2), { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou answer in one line.<|im_end|>\n<|im_start|>user\nWhere is the lighthouse?<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('masks exactly the assistant contents and their <|im_end|>, over several turns with unicode', () => {
    const { ids, assistantMask, text } = encodeChat(tok, convo);
    expect(ids).toEqual(tok.encode(text));
    expect(assistantMask).toHaveLength(ids.length);
    expect(maskedText(tok, ids, assistantMask)).toBe(assistantTargets(convo, '<|im_end|>'));
    // Unmasked tokens are the rest: system and user turns and every role header.
    const rest = tok.decode(ids.filter((_, k) => assistantMask[k] === 0));
    expect(rest).toContain('You answer in one line.');
    expect(rest).toContain('灯塔在哪里？');
    expect(rest.split('<|im_start|>assistant\n')).toHaveLength(4);
    // Each masked run ends on an <|im_end|>, which the model must learn to emit to stop.
    const imEnd = tok.tokenToId('<|im_end|>')!;
    ids.forEach((id, k) => {
      if (assistantMask[k] === 1 && assistantMask[k + 1] !== 1) expect(id).toBe(imEnd);
    });
  });

  it('is also reachable as tokenizer methods', () => {
    expect(tok.applyChatTemplate(convo, { addGenerationPrompt: true })).toBe(applyChatTemplate(tok, convo, { addGenerationPrompt: true }));
    expect(tok.encodeChat(convo)).toEqual(encodeChat(tok, convo));
  });

  it('leaves the generation prompt and a final user turn unmasked', () => {
    const msgs = convo.slice(0, 4);
    const plain = encodeChat(tok, msgs);
    const prompted = encodeChat(tok, msgs, { addGenerationPrompt: true });
    expect(prompted.text).toBe(plain.text + '<|im_start|>assistant\n');
    expect(prompted.ids.slice(0, plain.ids.length)).toEqual(plain.ids);
    expect(prompted.assistantMask.slice(plain.ids.length).every((v) => v === 0)).toBe(true);
    expect(maskedText(tok, prompted.ids, prompted.assistantMask)).toBe(assistantTargets(msgs, '<|im_end|>'));
    expect(encodeChat(tok, [system, convo[1]]).assistantMask.every((v) => v === 0)).toBe(true);
  });

  it("does not take the next turn's header for an end marker in a template without one", () => {
    const noEnd = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] }}{% endfor %}";
    const msgs: ChatMessage[] = [convo[1], convo[2], convo[3]];
    const { ids, assistantMask, text } = encodeChat(tok, msgs, { chatTemplate: noEnd });
    expect(text).toContain('harbour.<|im_start|>user');
    expect(maskedText(tok, ids, assistantMask)).toBe(convo[2].content);
  });

  it('does not confuse an assistant reply with an identical earlier user message', () => {
    const msgs: ChatMessage[] = [
      { role: 'user', content: 'echo' },
      { role: 'assistant', content: 'echo' },
      { role: 'user', content: 'echo' },
    ];
    const { ids, assistantMask, text } = encodeChat(tok, msgs);
    expect(maskedText(tok, ids, assistantMask)).toBe('echo<|im_end|>');
    // The masked tokens sit in the second turn, not the first.
    const first = assistantMask.indexOf(1);
    expect(tok.decode(ids.slice(0, first))).toBe(text.slice(0, text.indexOf('assistant\n') + 'assistant\n'.length));
  });
});

describe('a hand-written Llama-3 style template', () => {
  const LLAMA3 =
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await trainBpe(corpusLines(), {
      vocabSize: 400,
      specialTokens: ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
      bosToken: '<|begin_of_text|>',
      eosToken: '<|eot_id|>',
    });
  });
  const msgs: ChatMessage[] = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Capital of France?' },
    { role: 'assistant', content: '  Paris. 🇫🇷\n' },
    { role: 'user', content: 'And of Japan?' },
    { role: 'assistant', content: '東京 (Tokyo).' },
  ];

  it('renders with bos_token in scope and trimmed contents', () => {
    expect(applyChatTemplate(tok, msgs.slice(0, 3), { chatTemplate: LLAMA3 })).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nCapital of France?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nParis. 🇫🇷<|eot_id|>',
    );
  });

  it('masks the (trimmed) assistant contents and each <|eot_id|>', () => {
    for (const addGenerationPrompt of [false, true]) {
      const convo = addGenerationPrompt ? msgs.slice(0, 4) : msgs;
      const { ids, assistantMask } = encodeChat(tok, convo, { chatTemplate: LLAMA3, addGenerationPrompt });
      expect(maskedText(tok, ids, assistantMask)).toBe(assistantTargets(convo, '<|eot_id|>', (s) => s.trim()));
      expect(assistantMask[0]).toBe(0); // <|begin_of_text|>
    }
  });
});

describe('options and errors', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await trainBpe(corpusLines(), { vocabSize: 300, bosToken: '<|endoftext|>', eosToken: '<|im_end|>' });
  });
  const hi: ChatMessage[] = [{ role: 'user', content: 'hi' }];

  it('passes tools, special tokens and extra variables to the template', () => {
    const t = "{{ bos_token }}|{{ eos_token }}|{{ pad_token is defined }}|{{ tools | length if tools else 'none' }}|{{ greeting }}|{{ messages[0].name }}";
    const msgs = [{ role: 'user', content: 'hi', name: 'ada' }];
    expect(applyChatTemplate(tok, msgs, { chatTemplate: t, vars: { greeting: 'hey' } })).toBe('<|endoftext|>|<|im_end|>|false|none|hey|ada');
    expect(applyChatTemplate(tok, msgs, { chatTemplate: t, tools: [{ name: 'a' }, { name: 'b' }], vars: { greeting: 'yo', bos_token: 'B' } })).toBe('B|<|im_end|>|false|2|yo|ada');
  });

  it('names the bad message', () => {
    const bad = (msgs: unknown, re: RegExp) => {
      expect(() => applyChatTemplate(tok, msgs as ChatMessage[])).toThrow(re);
      expect(() => encodeChat(tok, msgs as ChatMessage[])).toThrow(re);
    };
    bad([], /messages is empty/);
    bad('hi', /must be an array/);
    bad([...hi, { role: 'assistant', content: 42 }], /messages\[1\]\.content must be a string, got number/);
    bad([...hi, ...hi, { content: 'x' }], /messages\[2\]\.role must be a non-empty string, got undefined/);
    bad([{ role: '', content: 'x' }], /messages\[0\]\.role/);
    bad([null], /messages\[0\] must be an object/);
    bad([...hi, ['user', 'hi']], /messages\[1\] must be an object \{role, content\}, got an array/);
  });

  it('reports template errors, including raise_exception', () => {
    expect(() => applyChatTemplate(tok, hi, { chatTemplate: '{% for m in messages %}' })).toThrow(/cannot parse the chat template/);
    const strict = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('first message must be system') }}{% endif %}";
    expect(() => applyChatTemplate(tok, hi, { chatTemplate: strict })).toThrow(/rendering the chat template failed: first message must be system/);
  });

  it('refuses to guess a mask when the template rewrites past turns', () => {
    // Only the last message is shown in full, so an earlier assistant turn changes once more messages follow.
    const lastOnly = '{% for m in messages %}{% if loop.last %}{{ m.content }}{% else %}[...]{% endif %}{% endfor %}';
    const msgs: ChatMessage[] = [...hi, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'bye' }];
    expect(() => encodeChat(tok, msgs, { chatTemplate: lastOnly })).toThrow(/rewrites past turns/);
  });

  it('refuses to guess a mask when the template changes the assistant content', () => {
    const upper = '{% for m in messages %}{{ m.role }}: {{ m.content | upper }}\n{% endfor %}';
    expect(() => encodeChat(tok, [...hi, { role: 'assistant', content: 'hello' }], { chatTemplate: upper })).toThrow(/changes the content of messages\[1\]/);
  });
});
