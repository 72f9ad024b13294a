// Chat templates render as Python Jinja does where @huggingface/jinja alone would not (str.strip family with `chars`).
import { Template } from '@huggingface/jinja';
import { applyChatTemplate, fromTokenizerJson, Tokenizer, toTokenizerJson, trainBpe } from '@stellar/tokenizer';

let tok: Tokenizer;
beforeAll(async () => {
  tok = await trainBpe(['hello there'], { vocabSize: 270 });
});
const render = (template: string, x = '\n  ab\n') =>
  applyChatTemplate(tok, [{ role: 'user', content: x }], { chatTemplate: `{% set x = messages[0].content %}${template}` });

// Expected values printed by Python: jinja2.Environment().from_string(t).render(x='\n  ab\n') (jinja2 3.1).
test.each([
  ["{{ x.lstrip('\\n') }}", '  ab\n'],
  ["{{ x.strip('\\n') }}", '  ab'],
  ["{{ x.rstrip('\\n') }}", '\n  ab'],
  ["{{ 'xy</answer>'.strip('</answer>') }}", 'xy'],
  ['{{ x.strip() }}', 'ab'],
  ['{{ x.lstrip(none) }}', 'ab\n'],
  ["{{ ('a</think>\\n\\n b').split('</think>')[-1].lstrip('\\n') }}", ' b'],
  ["{{ '🌊a🌊'.strip('🌊') }}", 'a'],
])('%s', (template, expected) => {
  expect(render(template)).toBe(expected);
});

test('refuses strip on a non-string, as Python does', () => {
  expect(() => applyChatTemplate(tok, [{ role: 'user', content: 'x' }], { chatTemplate: "{{ messages.lstrip('a') }}" })).toThrow(/lstrip\(\) needs a string/);
});

test('the rewrite is still needed: @huggingface/jinja 0.5.11 alone strips whitespace, ignoring chars', () => {
  // When this fails, the library honours `chars` and src/chat-jinja.ts can go.
  expect(new Template("{{ x.lstrip('\\n') }}").render({ x: '\n  ab\n' })).toBe('ab\n');
});

test('a loaded template gets the same treatment', () => {
  const withTpl = fromTokenizerJson(toTokenizerJson(tok), { chat_template: "{{ messages[0].content.lstrip('\\n') }}" });
  expect(applyChatTemplate(withTpl, [{ role: 'user', content: '\n  hi' }])).toBe('  hi');
});
