// chat_template in tokenizer_config.json / chat_template.jinja: what loadTokenizer reads and saveTokenizer writes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHATML_TEMPLATE, Tokenizer, applyChatTemplate, fromTokenizerJson, loadTokenizer, saveTokenizer, toTokenizerConfig, toTokenizerJson, trainBpe } from '@stellar/tokenizer';

const corpus = ['hello world, hello there', 'the world is wide and the sea is deep'];
const CUSTOM = '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}';
let chatml: Tokenizer; // trained with the default specials, which include <|im_start|> and <|im_end|>
let plain: Tokenizer; // trained without the ChatML markers
let tmp: string;

beforeAll(async () => {
  chatml = await trainBpe(corpus, { vocabSize: 300 });
  plain = await trainBpe(corpus, { vocabSize: 300, specialTokens: ['<s>', '</s>'], eosToken: '</s>' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-chat-config-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cfgOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
const withTemplate = (tok: Tokenizer, chatTemplate: unknown) => fromTokenizerJson(toTokenizerJson(tok), { ...toTokenizerConfig(tok), chat_template: chatTemplate });

describe('saveTokenizer', () => {
  it('writes the ChatML default for a tokenizer with the ChatML markers and no template of its own', () => {
    expect(chatml.chatTemplate).toBeNull();
    const dir = path.join(tmp, 'chatml');
    saveTokenizer(chatml, dir);
    expect(cfgOf(dir).chat_template).toBe(CHATML_TEMPLATE);
    const back = loadTokenizer(dir);
    expect(back.chatTemplate).toBe(CHATML_TEMPLATE);
    const msgs = [{ role: 'user', content: 'hello' }];
    expect(applyChatTemplate(back, msgs, { addGenerationPrompt: true })).toBe(applyChatTemplate(chatml, msgs, { addGenerationPrompt: true }));
  });

  it('writes no template for a tokenizer without the markers', () => {
    const dir = path.join(tmp, 'plain');
    saveTokenizer(plain, dir);
    expect('chat_template' in cfgOf(dir)).toBe(false);
    expect(loadTokenizer(dir).chatTemplate).toBeNull();
  });

  it('round-trips a custom template', () => {
    const dir = path.join(tmp, 'custom');
    saveTokenizer(withTemplate(plain, CUSTOM), dir);
    expect(cfgOf(dir).chat_template).toBe(CUSTOM);
    const back = loadTokenizer(dir);
    expect(back.chatTemplate).toBe(CUSTOM);
    expect(applyChatTemplate(back, [{ role: 'user', content: 'hi' }])).toBe('[user] hi\n');
  });
});

describe('loading chat_template', () => {
  it("takes HF's list form by its \"default\" entry", () => {
    const list = [{ name: 'tool_use', template: 'tools!' }, { name: 'default', template: CUSTOM }];
    expect(withTemplate(plain, list).chatTemplate).toBe(CUSTOM);
  });

  it('refuses malformed fields with a clear message', () => {
    expect(() => withTemplate(plain, [{ name: 'tool_use', template: 'x' }])).toThrow(/no "default" template \(has \["tool_use"\]\)/);
    expect(() => withTemplate(plain, [{ name: 'default' }])).toThrow(/chat_template\[0\] must be \{"name": string, "template": string\}/);
    expect(() => withTemplate(plain, 42)).toThrow(/chat_template must be a string or a list of \{name, template\}, got number/);
    expect(withTemplate(plain, null).chatTemplate).toBeNull();
  });

  it('prefers chat_template.jinja over the config field, as transformers does', () => {
    const dir = path.join(tmp, 'jinja-file');
    saveTokenizer(withTemplate(plain, 'from config'), dir);
    fs.writeFileSync(path.join(dir, 'chat_template.jinja'), CUSTOM);
    expect(loadTokenizer(dir).chatTemplate).toBe(CUSTOM);
    // The file is held to the same size limit as tokenizer.json.
    const limit = fs.statSync(path.join(dir, 'tokenizer.json')).size + 1000;
    fs.writeFileSync(path.join(dir, 'chat_template.jinja'), CUSTOM + `{# ${'x'.repeat(limit)} #}`);
    expect(() => loadTokenizer(dir, { maxFileBytes: limit })).toThrow(/chat_template\.jinja is \d+ bytes, over the \d+-byte limit/);
  });
});
