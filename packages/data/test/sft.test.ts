// SFT data: both conversation schemas normalise the same; labels sit exactly on assistant tokens
// (+ end-of-turn); truncation keeps partial samples and drops label-free ones, and reports both.
import { trainBpe, type Tokenizer } from '@stellar/tokenizer';
import { SftDataset, encodeSft, normalizeConversation, BatchLoader } from '../src';

let tok: Tokenizer;
beforeAll(async () => {
  tok = await trainBpe(['hello there, how are you today? I am fine thanks. what is two plus two? four. '.repeat(20)], { vocabSize: 400 });
});

const roleContent = { conversations: [{ role: 'user', content: 'what is two plus two?' }, { role: 'assistant', content: 'four.' }, { role: 'user', content: 'how are you?' }, { role: 'assistant', content: 'I am fine thanks.' }] };
const shareGpt = { conversations: [{ from: 'human', value: 'what is two plus two?' }, { from: 'gpt', value: 'four.' }, { from: 'human', value: 'how are you?' }, { from: 'gpt', value: 'I am fine thanks.' }] };

test('role/content and from/value records normalise to the same messages; a system prompt is prepended', () => {
  expect(normalizeConversation(shareGpt)).toEqual(normalizeConversation(roleContent));
  expect(normalizeConversation(roleContent, { systemPrompt: 'be brief' })[0]).toEqual({ role: 'system', content: 'be brief' });
  expect(() => normalizeConversation({ conversations: [{ from: 'alien', value: 'x' }] })).toThrow(/message 0 has role "alien"; allowed: system, user/);
  expect(() => normalizeConversation({ conversations: [{ role: 'user', content: 'hi' }] })).toThrow(/no assistant message/);
  expect(() => normalizeConversation({ text: 'x' })).toThrow(/expected \{"conversations"/);
});

test('labels are exactly the assistant contents and their <|im_end|>; everything else is -100', () => {
  const msgs = normalizeConversation(roleContent, { systemPrompt: 'be brief' });
  const { ids, labels } = encodeSft(tok, msgs);
  expect(labels.length).toBe(ids.length);
  const labelled = ids.filter((_, i) => labels[i] !== -100);
  expect(tok.decode(labelled)).toBe('four.<|im_end|>I am fine thanks.<|im_end|>');
  // user turns and headers carry no label: the first labelled token comes after "<|im_start|>assistant\n"
  const first = labels.findIndex((l) => l !== -100);
  expect(tok.decode(ids.slice(0, first))).toMatch(/<\|im_start\|>assistant\n$/);
});

test('truncation: partial samples kept and counted, label-free ones dropped and counted, never silently', () => {
  const long = normalizeConversation({ conversations: [{ role: 'user', content: 'hello there '.repeat(30) }, { role: 'assistant', content: 'four.' }] });
  const ok = normalizeConversation(roleContent);
  const full = encodeSft(tok, ok).ids.length;
  const ds = new SftDataset(tok, [ok, long, ok], { maxLength: full - 3, seed: 1 });
  expect(ds.report).toMatchObject({ samples: 2, dropped: 1, truncated: 2 });
  for (let i = 0; i < ds.length; i++) {
    const s = ds.sampleAt(0, i);
    expect(s.inputIds.length).toBe(full - 3);
    expect([...s.labels].slice(1).some((l) => l !== -100)).toBe(true);
  }
  expect(() => new SftDataset(tok, [long], { maxLength: 16 })).toThrow(/no usable samples \(1 dropped by maxLength 16\)/);
});

test('batches through the BatchLoader pad on the right with -100 labels and a zero mask', async () => {
  const short = normalizeConversation({ conversations: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'four.' }] });
  const ds = new SftDataset(tok, [normalizeConversation(roleContent), short], { maxLength: 256, shuffle: false });
  const loader = new BatchLoader(ds, { batchSize: 2, prefetch: 0, epochs: 1 });
  const batches = [];
  for await (const b of loader) batches.push(b);
  expect(batches.length).toBe(1);
  const b = batches[0];
  const n1 = ds.sampleAt(0, 1).inputIds.length;
  expect(b.attentionMask[b.seqLen + n1]).toBe(0);
  expect(b.labels[b.seqLen + n1]).toBe(-100);
  expect(b.attentionMask[b.seqLen + n1 - 1]).toBe(1);
});

test('preference pairs share the prompt tokens and label only the responses; bad records are named', async () => {
  const { parsePreference, encodePreference, parsePrompt } = await import('../src');
  const rec = parsePreference({ prompt: 'what is two plus two?', chosen: 'four.', rejected: 'five.' });
  const pair = encodePreference(tok, rec, 256)!;
  expect(pair.chosen.ids.slice(0, pair.promptLength)).toEqual(pair.rejected.ids.slice(0, pair.promptLength));
  expect(tok.decode(pair.chosen.ids.filter((_, i) => pair.chosen.labels[i] !== -100))).toBe('four.<|im_end|>');
  expect(tok.decode(pair.rejected.ids.filter((_, i) => pair.rejected.labels[i] !== -100))).toBe('five.<|im_end|>');
  const asMessages = parsePreference({ prompt: [{ role: 'user', content: 'what is two plus two?' }], chosen: 'four.', rejected: 'five.' });
  expect(encodePreference(tok, asMessages, 256)).toEqual(pair);
  expect(encodePreference(tok, rec, pair.promptLength)).toBeNull();
  expect(() => parsePreference({ prompt: 'x', chosen: 'a', rejected: 'a' })).toThrow(/identical/);
  expect(() => parsePreference({ prompt: 'x', chosen: 1, rejected: 'a' })).toThrow(/"chosen" must be a string/);
  expect(parsePrompt({ prompt: 'what is 2+2?', answer: '4' })).toEqual({ messages: [{ role: 'user', content: 'what is 2+2?' }], reference: '4' });
});
