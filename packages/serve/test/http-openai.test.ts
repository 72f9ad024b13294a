// The server through the official `openai` client against a real listening server (engine in a worker):
// chat and completions, streamed and not, give the engine's direct greedy output, which equals
// full-forward argmax decoding; 6 concurrent clients get their solo answers; log-probs, usage chunks,
// /v1/models, /tokenize + /detokenize, /health and /metrics (parsed as Prometheus text, counters move).
import { Engine, startEngineWorker, type EngineClient, type TokenEvent } from '../src';
import { fullForwardGreedy, removeTmpDirs, tinyModelDir, type TinyModel } from './util/tiny';
import { post, startServer, type Running } from './util/http-server';

let tiny: TinyModel;
let client: EngineClient;
let s: Running;
let direct: Engine;

beforeAll(async () => {
  tiny = await tinyModelDir('http-openai', { maxPositionEmbeddings: 96 });
  client = await startEngineWorker({ model: tiny.dir, maxBatch: 4, maxQueue: 16, id: 'tiny' });
  s = await startServer({ engine: client });
  direct = Engine.load({ model: tiny.dir, maxBatch: 4 });
});
afterAll(async () => {
  await s?.server.close();
  direct?.close();
  tiny?.model.dispose();
  removeTmpDirs();
});

const CONVERSATIONS = [
  [{ role: 'user' as const, content: 'the keeper' }],
  [{ role: 'system' as const, content: 'be brief' }, { role: 'user' as const, content: 'Fog rolled over the harbour' }],
  [{ role: 'user' as const, content: 'ships' }, { role: 'assistant' as const, content: 'came home' }, { role: 'user' as const, content: 'at dusk?' }],
];

test('chat, streamed and not: greedy text == the engine directly == full-forward argmax', async () => {
  for (const messages of CONVERSATIONS) {
    const want = await direct.submit({ messages, maxTokens: 12, temperature: 0 }).result;
    const ids = tiny.tok.encodeChat(messages, { addGenerationPrompt: true }).ids;
    expect(want.tokens).toEqual(fullForwardGreedy(tiny.model, ids, want.tokens.length));

    const r = await s.client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.model).toBe('tiny');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0]).toMatchObject({ index: 0, message: { role: 'assistant', content: want.text }, finish_reason: want.finishReason, logprobs: null });
    expect(r.usage).toEqual({ prompt_tokens: ids.length, completion_tokens: want.tokens.length, total_tokens: ids.length + want.tokens.length });

    const chunks = [];
    for await (const c of await s.client.chat.completions.create({ model: 'tiny', messages, max_completion_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } })) chunks.push(c);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(r.usage);
    const fin = chunks[chunks.length - 2];
    expect(fin.choices[0]).toMatchObject({ delta: {}, finish_reason: want.finishReason });
    expect(chunks.slice(0, -2).every((c) => c.usage === null && c.choices[0].finish_reason === null && c.object === 'chat.completion.chunk')).toBe(true);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(want.text);
  }
});

test('completions: text prompt, token-id prompt and [prompt], streamed and not; the default max_tokens is 16', async () => {
  const prompt = 'The lighthouse keeper';
  const ids = tiny.tok.encode(prompt);
  const want = await direct.submit({ prompt: ids, maxTokens: 10, temperature: 0, ignoreEos: true }).result;
  expect(want.tokens).toEqual(fullForwardGreedy(tiny.model, ids, 10));
  for (const p of [prompt, ids, [prompt], [ids]]) {
    const r = await s.client.completions.create({ model: 'tiny', prompt: p as string, max_tokens: 10, temperature: 0, ignore_eos: true } as never);
    expect(r).toMatchObject({ object: 'text_completion', model: 'tiny', choices: [{ index: 0, text: want.text, finish_reason: 'length', logprobs: null }], usage: { prompt_tokens: ids.length, completion_tokens: 10, total_tokens: ids.length + 10 } });
    expect(r.id).toMatch(/^cmpl-/);
  }
  let text = '', finish = null;
  for await (const c of await s.client.completions.create({ model: 'tiny', prompt, max_tokens: 10, temperature: 0, stream: true, ignore_eos: true } as never) as unknown as AsyncIterable<{ choices: { text: string; finish_reason: string | null }[] }>) {
    text += c.choices[0].text;
    finish = c.choices[0].finish_reason ?? finish;
  }
  expect(text).toBe(want.text);
  expect(finish).toBe('length');
  const d = await s.client.completions.create({ model: 'tiny', prompt, temperature: 0, ignore_eos: true } as never);
  expect(d.usage!.completion_tokens).toBe(16);
});

test('6 concurrent streaming and non-streaming clients each get their solo answer', async () => {
  const reqs = Array.from({ length: 6 }, (_, i) => ({ messages: [{ role: 'user' as const, content: ['the keeper', 'ships', 'fog', 'bell', 'lens', 'dawn'][i] }], max_tokens: 8 + i, temperature: i % 2 ? 0.8 : 0, seed: 100 + i }));
  const solo = [];
  for (const r of reqs) solo.push((await direct.submit({ messages: r.messages, maxTokens: r.max_tokens, temperature: r.temperature, seed: r.seed }).result).text);
  const got = await Promise.all(reqs.map(async (r, i) => {
    if (i % 3 === 0) return (await s.client.chat.completions.create({ model: 'tiny', ...r })).choices[0].message.content;
    let t = '';
    for await (const c of await s.client.chat.completions.create({ model: 'tiny', ...r, stream: true })) t += c.choices[0]?.delta?.content ?? '';
    return t;
  }));
  expect(got).toEqual(solo);
});

test('log-probs: chat top_logprobs and completions logprobs, in OpenAI shapes, equal to the engine', async () => {
  const messages = CONVERSATIONS[0];
  const want = await direct.submit({ messages, maxTokens: 5, temperature: 0, logprobs: true, topLogprobs: 3 });
  const events: TokenEvent[] = [];
  for await (const ev of want) if (ev.type === 'token') events.push(ev);
  const r = await s.client.chat.completions.create({ model: 'tiny', messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs!.content!;
  expect(content).toHaveLength(events.length);
  content.forEach((c, i) => {
    expect(c.token).toBe(tiny.tok.decode([events[i].token], { skipSpecialTokens: false }));
    expect(c.logprob).toBeCloseTo(events[i].logprob!, 5);
    expect(c.top_logprobs.map((t) => t.logprob)).toEqual(events[i].top!.map((t) => expect.closeTo(t.logprob, 5)));
    expect(c.top_logprobs[0].token).toBe(c.token);   // greedy: the chosen token is the most likely
  });
  const streamed = [];
  for await (const c of await s.client.chat.completions.create({ model: 'tiny', messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3, stream: true })) streamed.push(...(c.choices[0]?.logprobs?.content ?? []));
  expect(streamed).toEqual(content);
  // the bytes are each token's own: joined they give the completion exactly, split characters included
  expect(Buffer.from(content.flatMap((c) => c.bytes!)).toString('utf8')).toBe(r.choices[0].message.content + (r.choices[0].finish_reason === 'stop' ? Buffer.from(content[content.length - 1].bytes!).toString() : ''));

  const cr = await s.client.completions.create({ model: 'tiny', prompt: 'the keeper', max_tokens: 4, temperature: 0, logprobs: 2, ignore_eos: true } as never);
  const lp = cr.choices[0].logprobs!;
  expect(lp.tokens).toHaveLength(4);
  expect(lp.token_logprobs!.every((x) => x < 0)).toBe(true);
  expect(lp.top_logprobs!.every((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 2)).toBe(true);
  expect(lp.text_offset![0]).toBe(0);
  const ids = (await direct.submit({ prompt: 'the keeper', maxTokens: 4, temperature: 0, ignoreEos: true }).result).tokens;
  expect(lp.tokens).toEqual(ids.map((id) => Buffer.from(direct.tokenBytes([id])[0]).toString('utf8')));
});

test('/v1/models, /tokenize + /detokenize round trip, /health', async () => {
  const models = await s.client.models.list();
  expect(models.data).toEqual([{ id: 'tiny', object: 'model', created: 0, owned_by: 'stellar', max_model_len: 96 }]);
  const t = await post(`${s.url}/tokenize`, { model: 'tiny', prompt: 'Grüße 🌊 the keeper' });
  expect(t.status).toBe(200);
  expect(t.json).toEqual({ tokens: tiny.tok.encode('Grüße 🌊 the keeper'), count: t.json.tokens.length, max_model_len: 96 });
  const d = await post(`${s.url}/detokenize`, { tokens: t.json.tokens });
  expect(d.json.prompt).toContain('Grüße 🌊 the keeper');
  const raw = await post(`${s.url}/tokenize`, { prompt: 'the keeper', add_special_tokens: false });
  expect((await post(`${s.url}/detokenize`, { tokens: raw.json.tokens })).json).toEqual({ prompt: 'the keeper' });
  const chat = await post(`${s.url}/tokenize`, { messages: CONVERSATIONS[1] });
  expect(chat.json.tokens).toEqual(tiny.tok.encodeChat(CONVERSATIONS[1], { addGenerationPrompt: true }).ids);
  expect((await fetch(`${s.url}/health`)).status).toBe(200);
});

/** Parses Prometheus text exposition into {name{labels}: value}; throws on any malformed line. */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) { if (m[1] === 'TYPE') { expect(['counter', 'gauge', 'histogram']).toContain(m[3]); types.set(m[2], m[3]); } continue; }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const base = m[1].replace(/_(bucket|sum|count)$/, '');
    if (!types.has(m[1]) && !types.has(base)) throw new Error(`sample without TYPE: ${line}`);
    out.set(m[1] + (m[2] ?? ''), Number(m[3].replace('+Inf', 'Infinity')));
  }
  return out;
}

test('/metrics is Prometheus text and its counters, gauges and histograms move', async () => {
  const before = parseProm(await (await fetch(`${s.url}/metrics`)).text());
  const key = 'stellar_http_requests_total{endpoint="/v1/chat/completions",method="POST",status="200"}';
  await s.client.chat.completions.create({ model: 'tiny', messages: CONVERSATIONS[0], max_tokens: 6, temperature: 0 });
  for await (const _ of await s.client.chat.completions.create({ model: 'tiny', messages: CONVERSATIONS[0], max_tokens: 6, temperature: 0, stream: true }));
  await post(`${s.url}/v1/chat/completions`, { messages: [] });
  const res = await fetch(`${s.url}/metrics`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const after = parseProm(await res.text());
  expect(after.get(key)! - (before.get(key) ?? 0)).toBe(2);
  expect(after.get('stellar_http_requests_total{endpoint="/v1/chat/completions",method="POST",status="400"}')! - (before.get('stellar_http_requests_total{endpoint="/v1/chat/completions",method="POST",status="400"}') ?? 0)).toBe(1);
  expect(after.get('stellar_completion_tokens_total')! - (before.get('stellar_completion_tokens_total') ?? 0)).toBeGreaterThanOrEqual(2);
  expect(after.get('stellar_prompt_tokens_total')!).toBeGreaterThan(before.get('stellar_prompt_tokens_total') ?? 0);
  for (const h of ['stellar_request_latency_seconds', 'stellar_time_to_first_token_seconds', 'stellar_inter_token_latency_seconds']) {
    expect(after.get(`${h}_count`)!).toBeGreaterThan(before.get(`${h}_count`) ?? 0);
    expect(after.get(`${h}_bucket{le="+Inf"}`)).toBe(after.get(`${h}_count`));
  }
  expect(after.get('stellar_queue_depth')).toBe(0);
  expect(after.get('stellar_active_sequences')).toBe(0);
});
