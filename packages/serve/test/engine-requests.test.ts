// Engine requests end to end: text and chat prompts, stop strings matched on text (also across
// tokens, never leaking into the stream), EOS, max_tokens and the context limit, validation errors
// naming the field, cancellation (running and queued) freeing the slot, UTF-8-safe text deltas.
import { Tensor, logSoftmax, noGrad, tidy } from '@stellar/tensor';
import { BYTE_TO_CHAR, type Tokenizer } from '@stellar/tokenizer';
import { Engine, EngineError, type Completion, type EngineEvent, type GenerationRequest, type RequestHandle, type TokenEvent } from '../src';
import { fullForwardGreedy, prompts, tinyModelDir, type TinyModel, removeTmpDirs } from './util/tiny';

let tiny: TinyModel;
beforeAll(async () => { tiny = await tinyModelDir('requests'); });
afterAll(() => { tiny.model.dispose(); removeTmpDirs(); });

const open = (o: Partial<Parameters<typeof Engine.load>[0]> = {}) => Engine.load({ model: tiny.dir, autoRun: false, ...o });
/** Runs one request to the end on a stepped engine; its events and completion. */
function run(e: Engine, req: GenerationRequest): { events: TokenEvent[]; done: Completion } {
  const h = e.submit(req);
  const events: EngineEvent[] = [];
  void (async () => { for await (const ev of h) events.push(ev); })();
  while (!h.done) e.step();
  const buf = (h as unknown as { buffer: EngineEvent[] }).buffer;
  return { events: buf.filter((x): x is TokenEvent => x.type === 'token'), done: buf.find((x) => x.type === 'done') as Completion };
}

test('text and chat prompts are tokenized like the tokenizer does; deltas join to the final text', () => {
  const e = open({ eosTokenIds: [] });
  try {
    const r = run(e, { prompt: 'The keeper climbed', maxTokens: 12, temperature: 0 });
    const ids = tiny.tok.encode('The keeper climbed', { addSpecialTokens: true });
    expect(r.done.usage.promptTokens).toBe(ids.length);
    expect(r.done.tokens).toEqual(fullForwardGreedy(tiny.model, ids, 12));
    expect(r.events.map((x) => x.text).join('')).toBe(r.done.text);
    expect(r.done.text).toBe(tiny.tok.decode(r.done.tokens, { skipSpecialTokens: true }));

    const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Where is the lighthouse?' }];
    const chat = run(e, { messages, maxTokens: 6, temperature: 0, ignoreEos: true });
    const chatIds = tiny.tok.encodeChat(messages, { addGenerationPrompt: true }).ids;
    expect(chat.done.usage.promptTokens).toBe(chatIds.length);
    expect(chat.done.tokens).toEqual(fullForwardGreedy(tiny.model, chatIds, 6));
  } finally { e.close(); }
});

test('a stop string spanning two tokens cuts the text before it and never reaches the stream', () => {
  const e = open({ eosTokenIds: [] });
  try {
    const base = run(e, { prompt: 'Fog rolled over', maxTokens: 40, temperature: 0 });
    const full = base.done.text;
    // a two-character stop string made of the last character of one token's text and the first of the next
    let stop = '', at = -1, offset = 0;
    for (let k = 0; k + 1 < base.events.length && at < 0; k++) {
      const a = base.events[k].text, b = base.events[k + 1].text;
      offset += a.length;
      if (k < 2 || !a || !b || /[\uFFFD\uD800-\uDFFF]/.test(a.slice(-1) + b[0])) continue;
      const s = a.slice(-1) + b[0];
      if (full.indexOf(s) === offset - 1) { stop = s; at = offset - 1; }
    }
    expect(at).toBeGreaterThan(0);
    const r = run(e, { prompt: 'Fog rolled over', maxTokens: 40, temperature: 0, stop: ['zzzz', stop] });
    expect(r.done.finishReason).toBe('stop');
    expect(r.done.text).toBe(full.slice(0, at));
    expect(r.events.map((x) => x.text).join('')).toBe(full.slice(0, at));   // the first half was held back, then dropped
    // the tokens stop at the one that completed the stop string
    expect(r.done.tokens).toEqual(base.done.tokens.slice(0, r.done.tokens.length));
    expect(r.done.tokens.length).toBeLessThan(base.done.tokens.length);
    // a stop string that never occurs holds nothing back for good: the text is complete at the end
    const none = run(e, { prompt: 'Fog rolled over', maxTokens: 40, temperature: 0, stop: full.slice(-1) + '\u0001' });
    expect(none.done.text).toBe(full);
    expect(none.done.finishReason).toBe('length');
  } finally { e.close(); }
});

test('EOS (and stop token ids) end a request with stop: kept in the tokens, not in the text', () => {
  const p = prompts(1, tiny.tok.vocabSize, 2)[0];
  const greedy = fullForwardGreedy(tiny.model, p, 8);
  const e = open({ eosTokenIds: [greedy[3]] });
  try {
    const first = greedy.indexOf(greedy[3]);
    const r = run(e, { prompt: p, maxTokens: 8, temperature: 0 });
    expect(r.done.finishReason).toBe('stop');
    expect(r.done.tokens).toEqual(greedy.slice(0, first + 1));
    expect(r.done.text).toBe(tiny.tok.decode(greedy.slice(0, first), { skipSpecialTokens: true }));
    expect(run(e, { prompt: p, maxTokens: 8, temperature: 0, ignoreEos: true }).done.tokens).toEqual(greedy);
    const byId = run(e, { prompt: p, maxTokens: 8, temperature: 0, ignoreEos: true, stopTokenIds: [greedy[5]] });
    expect(byId.done.tokens).toEqual(greedy.slice(0, greedy.indexOf(greedy[5]) + 1));
    expect(byId.done.finishReason).toBe('stop');
  } finally { e.close(); }
});

test('max_tokens ends with length; the context limit rejects up front with numbers, or fills the rest when max_tokens is omitted', () => {
  const e = open({ eosTokenIds: [], maxContext: 24 });
  try {
    const p = prompts(1, tiny.tok.vocabSize, 4, 10, 10)[0];
    const r = run(e, { prompt: p, maxTokens: 5, temperature: 0 });
    expect(r.done.finishReason).toBe('length');
    expect(r.done.usage.completionTokens).toBe(5);
    const rest = run(e, { prompt: p, temperature: 0 });
    expect(rest.done.usage.completionTokens).toBe(24 - 10);
    expect(rest.done.tokens).toEqual(fullForwardGreedy(tiny.model, p, 14));
    const err = (req: GenerationRequest) => { try { e.submit(req); } catch (x) { return x as EngineError; } throw new Error('accepted'); };
    const over = err({ prompt: p, maxTokens: 15 });
    expect(over).toBeInstanceOf(EngineError);
    expect(over).toMatchObject({ code: 'context_length_exceeded', param: 'max_tokens', status: 400 });
    expect(over.message).toMatch(/maximum context length is 24 tokens, but 25 were requested \(10 in the prompt, 15 in the completion\)/);
    const long = err({ prompt: prompts(1, tiny.tok.vocabSize, 4, 24, 24)[0] });
    expect(long).toMatchObject({ code: 'context_length_exceeded', param: 'prompt' });
    expect(long.message).toMatch(/24 tokens, but the prompt has 24 tokens/);
    expect(err({ prompt: p, topP: 0 })).toMatchObject({ code: 'invalid_value', param: 'top_p', message: 'top_p must be in (0, 1], got 0' });
    expect(err({ prompt: p, temperature: -1 })).toMatchObject({ param: 'temperature' });
    expect(err({ prompt: p, maxTokens: 0 })).toMatchObject({ param: 'max_tokens' });
    expect(err({ prompt: p, topLogprobs: 21 })).toMatchObject({ param: 'top_logprobs' });
    expect(err({ prompt: p, presencePenalty: 3 })).toMatchObject({ param: 'presence_penalty' });
    expect(err({ prompt: [1, 99999] })).toMatchObject({ param: 'prompt' });
    expect(err({ prompt: p, stop: [3 as unknown as string] })).toMatchObject({ param: 'stop' });
    expect(err({})).toMatchObject({ code: 'missing_prompt' });
    expect(err({ messages: [{ role: 'user' } as never] })).toMatchObject({ param: 'messages' });
    expect(e.metrics().requests.rejectedInvalid).toBe(11);
  } finally { e.close(); }
});

test('logprobs and top alternatives match the full forward log-softmax', () => {
  const e = open({ eosTokenIds: [] });
  try {
    const p = prompts(1, tiny.tok.vocabSize, 8)[0];
    const r = run(e, { prompt: p, maxTokens: 3, temperature: 0, logprobs: true, topLogprobs: 3 });
    const seq = [...p];
    for (const ev of r.events) {
      const ref = noGrad(() => tidy(() => logSoftmax(tiny.model.forward(Tensor.fromArray(seq, [1, seq.length], { dtype: 'int32' }), { logitsToKeep: 1 }).logits).toFloat64()));
      expect(Math.abs(ev.logprob! - ref[ev.token])).toBeLessThan(2e-5);
      const best = [...ref.keys()].sort((a, b) => ref[b] - ref[a]).slice(0, 3);
      expect(ev.top!.map((t) => t.token)).toEqual(best);
      seq.push(ev.token);
      expect(ev.top!.length).toBe(3);
      expect(ev.top![0].token).toBe(ev.token);   // greedy picks the most likely
      expect(ev.top![0].logprob).toBeCloseTo(ev.logprob!, 12);
      expect(ev.top![1].logprob).toBeLessThanOrEqual(ev.top![0].logprob);
      expect(ev.logprob!).toBeLessThan(0);
    }
  } finally { e.close(); }
});

test('cancelling mid-stream ends with cancelled and frees the slot for the waiting request; a queued request cancels at once', async () => {
  const e = open({ eosTokenIds: [], maxBatch: 1, autoRun: true });
  try {
    const [p, q, s] = prompts(3, tiny.tok.vocabSize, 12);
    const ac = new AbortController();
    const h = e.submit({ prompt: p, maxTokens: 50, temperature: 0 }, { signal: ac.signal });
    const waiting = e.submit({ prompt: q, maxTokens: 3, temperature: 0 });
    const queued = e.submit({ prompt: s, maxTokens: 3, temperature: 0 });
    queued.cancel();
    expect((await queued.result).finishReason).toBe('cancelled');
    expect((await queued.result).tokens).toEqual([]);
    let n = 0;
    let done: Completion | null = null;
    for await (const ev of h) {
      if (ev.type === 'token' && ++n === 3) ac.abort();
      if (ev.type === 'done') done = ev;
    }
    expect(done!.finishReason).toBe('cancelled');
    expect(done!.usage.completionTokens).toBeGreaterThanOrEqual(3);
    expect(done!.usage.completionTokens).toBeLessThan(10);
    const w = await waiting.result;   // it only had a slot once the cancelled one left
    expect(w.finishReason).toBe('length');
    expect(w.tokens).toEqual(fullForwardGreedy(tiny.model, q, 3));
    expect(w.timing.queueMs).toBeGreaterThan(0);
    const m = e.metrics();
    expect(m.activeSequences).toBe(0);
    expect(m.requests.finished).toEqual({ stop: 0, length: 1, cancelled: 2 });
    expect(m.ttftMs.count).toBe(2);
  } finally { e.close(); }
});

/** Bytes a token decodes to (independent of the tokenizer's decoder: byte-level chars mapped back). */
function tokenBytes(tok: Tokenizer, id: number): number[] {
  const added = tok.addedTokens.find((t) => t.id === id);
  if (added) return [...Buffer.from(added.content, 'utf8')];
  return [...tok.idToTokenString(id)!].map((ch) => BYTE_TO_CHAR.indexOf(ch));
}

/** Length of the longest prefix of `b` that does not end inside a still-valid, unfinished UTF-8 character. */
function completePrefix(b: number[]): number {
  for (let back = 1; back <= Math.min(3, b.length); back++) {
    const j = b.length - back, x = b[j];
    if ((x & 0xc0) === 0x80) continue;   // continuation byte: look further back
    const need = x >= 0xc2 && x <= 0xdf ? 2 : x >= 0xe0 && x <= 0xef ? 3 : x >= 0xf0 && x <= 0xf4 ? 4 : 1;
    if (need <= back) return b.length;
    if (back >= 2) {   // the second byte's allowed range depends on the lead (WHATWG UTF-8 decoder)
      const y = b[j + 1];
      const [lo, hi] = x === 0xe0 ? [0xa0, 0xbf] : x === 0xed ? [0x80, 0x9f] : x === 0xf0 ? [0x90, 0xbf] : x === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
      if (y < lo || y > hi) return b.length;
    }
    return j;
  }
  return b.length;
}

test('streamed text never splits a UTF-8 character: a character spread over tokens arrives whole', () => {
  const e = open({ eosTokenIds: [], maxBatch: 4 });
  try {
    let heldThenWhole = 0;
    for (let seed = 0; seed < 12; seed++) {
      const r = run(e, { prompt: 'café 世界 🌊', maxTokens: 48, temperature: 1.5, seed, ignoreEos: true, skipSpecialTokens: false });
      const bytes: number[] = [];
      let emitted = '', held = false;
      for (const [i, ev] of r.events.entries()) {
        const b = tokenBytes(tiny.tok, ev.token);
        bytes.push(...b);
        emitted += ev.text;
        // the last token also flushes an unfinished character (as U+FFFD, like decode)
        const cut = i === r.events.length - 1 ? bytes.length : completePrefix(bytes);
        expect(emitted).toBe(new TextDecoder().decode(Uint8Array.from(bytes.slice(0, cut))));
        if (cut < bytes.length && ev.text === '' && b.length) held = true;
        // a multi-byte character completed by this token, begun in an earlier one
        if (held && cut === bytes.length && /[^\u0000-\u007f\uFFFD]/.test(ev.text)) { heldThenWhole++; held = false; }
      }
      expect(r.done.text).toBe(new TextDecoder().decode(Uint8Array.from(bytes)));
    }
    expect(heldThenWhole).toBeGreaterThan(0);
  } finally { e.close(); }
});

test('a failing forward pass fails the requests it carried (internal_error, 500); the engine keeps serving', async () => {
  const e = open({ eosTokenIds: [] });
  try {
    const [p, q] = prompts(2, tiny.tok.vocabSize, 40);
    const h = e.submit({ prompt: p, maxTokens: 10, temperature: 0 });
    e.step();
    const sched = (e as unknown as { sched: { decode: () => unknown } }).sched;
    const decode = sched.decode;
    sched.decode = () => { throw new Error('kernel exploded'); };
    e.step();
    sched.decode = decode;
    await expect(h.result).rejects.toMatchObject({ code: 'internal_error', status: 500, message: 'kernel exploded' });
    await expect((async () => { for await (const _ of h) { /* drain */ } })()).rejects.toThrow('kernel exploded');
    expect(e.metrics()).toMatchObject({ activeSequences: 0, requests: { failed: 1 } });
    expect(run(e, { prompt: q, maxTokens: 4, temperature: 0 }).done.tokens).toEqual(fullForwardGreedy(tiny.model, q, 4));
  } finally { e.close(); }
});
