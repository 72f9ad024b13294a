// Refusals in OpenAI's error shape with the right status: bad JSON, wrong types and values (naming the
// field), unknown model, n > 1 and other unsupported fields, prompts over the context length, body too
// large, unknown routes, and the API key (only when one is set), both raw and through the openai client.
import OpenAI from 'openai';
import { Engine, EngineError, RequestHandle } from '../src';
import { removeTmpDirs, tinyModelDir, type TinyModel } from './util/tiny';
import { post, sseData, startServer, type Running } from './util/http-server';

let tiny: TinyModel;
let s: Running;
let keyed: Running;

beforeAll(async () => {
  tiny = await tinyModelDir('http-errors');
  s = await startServer({ engine: Engine.load({ model: tiny.dir, maxBatch: 2, id: 'tiny' }), bodyLimit: 4096 });
  keyed = await startServer({ engine: Engine.load({ model: tiny.dir, maxBatch: 2, id: 'tiny' }), apiKey: 'sekret-42', ui: true });
});
afterAll(async () => {
  await s?.server.close();
  await keyed?.server.close();
  tiny?.model.dispose();
  removeTmpDirs();
});

const chat = (extra: Record<string, unknown>) => ({ model: 'tiny', messages: [{ role: 'user', content: 'the keeper' }], max_tokens: 4, ...extra });

function expectError(r: { status: number; json: any }, status: number, param: string | null, code?: string, type?: string): void {
  expect(r.status).toBe(status);
  expect(Object.keys(r.json)).toEqual(['error']);
  expect(Object.keys(r.json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof r.json.error.message).toBe('string');
  expect(r.json.error.message.length).toBeGreaterThan(5);
  expect(r.json.error.param).toBe(param);
  if (code) expect(r.json.error.code).toBe(code);
  if (type) expect(r.json.error.type).toBe(type);
}

test('bad JSON and non-object bodies are 400', async () => {
  const u = `${s.url}/v1/chat/completions`;
  expectError(await post(u, '{"model": "tiny", "messages": ['), 400, null, 'invalid_json', 'invalid_request_error');
  expectError(await post(u, '[1, 2]'), 400, 'body');
  expectError(await post(`${s.url}/v1/completions`, '"just a string"'), 400, 'body');
});

test('schema violations are 400 and name the field', async () => {
  const u = `${s.url}/v1/chat/completions`;
  const cases: [Record<string, unknown>, string][] = [
    [{ temperature: 'hot' }, 'temperature'],
    [{ temperature: 3 }, 'temperature'],
    [{ top_p: 1.5 }, 'top_p'],
    [{ max_tokens: 0 }, 'max_tokens'],
    [{ max_tokens: 2.5 }, 'max_tokens'],
    [{ max_completion_tokens: 'many' }, 'max_completion_tokens'],
    [{ presence_penalty: 2.5 }, 'presence_penalty'],
    [{ frequency_penalty: -3 }, 'frequency_penalty'],
    [{ stop: 7 }, 'stop'],
    [{ stop: ['a', 3] }, 'stop'],
    [{ seed: 1.5 }, 'seed'],
    [{ stream: 'yes' }, 'stream'],
    [{ stream_options: { include_usage: true } }, 'stream_options'],
    [{ logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
    [{ top_logprobs: 2 }, 'top_logprobs'],
    [{ top_k: 1.5 }, 'top_k'],
    [{ min_p: 2 }, 'min_p'],
    [{ n: 2 }, 'n'],
    [{ tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools'],
    [{ logit_bias: { 5: 10 } }, 'logit_bias'],
    [{ model: 42 }, 'model'],
    [{ messages: [] }, 'messages'],
    [{ messages: 'hello' }, 'messages'],
    [{ messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0]'],
  ];
  for (const [extra, param] of cases) {
    const r = await post(u, chat(extra));
    expectError(r, 400, param);
  }
  const noMessages = await post(u, { model: 'tiny' });
  expectError(noMessages, 400, 'messages', 'missing_required_parameter');
  const c = `${s.url}/v1/completions`;
  expectError(await post(c, { prompt: 42 }), 400, 'prompt', 'invalid_type');
  expectError(await post(c, {}), 400, 'prompt', 'missing_required_parameter');
  expectError(await post(c, { prompt: ['a', 'b'] }), 400, 'prompt', 'unsupported_value');
  expectError(await post(c, { prompt: [1, 2, 99999] }), 400, 'prompt');
  expectError(await post(c, { prompt: 'x', echo: true }), 400, 'echo');
  expectError(await post(c, { prompt: 'x', best_of: 3 }), 400, 'best_of');
  expectError(await post(c, { prompt: 'x', logprobs: 50 }), 400, 'logprobs');
  // the openai client surfaces the same error
  const err = await s.client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], n: 3 }).catch((e) => e);
  expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  expect(err.status).toBe(400);
  expect(err.param).toBe('n');
});

test('unknown model 404, over-long prompts 400 context_length_exceeded, unknown routes 404', async () => {
  expectError(await post(`${s.url}/v1/chat/completions`, chat({ model: 'gpt-9' })), 404, 'model', 'model_not_found', 'not_found_error');
  expectError(await post(`${s.url}/v1/completions`, { model: 'gpt-9', prompt: 'x' }), 404, 'model', 'model_not_found');
  const err = await s.client.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
  expect(err).toBeInstanceOf(OpenAI.NotFoundError);
  expect(err.code).toBe('model_not_found');

  // the context is 64 tokens
  const long = Array.from({ length: 70 }, (_, i) => 4 + (i % 50));
  const r = await post(`${s.url}/v1/completions`, { prompt: long, max_tokens: 1 });
  expectError(r, 400, 'prompt', 'context_length_exceeded');
  expect(r.json.error.message).toMatch(/maximum context length is 64 tokens.*70/);
  const over = await post(`${s.url}/v1/completions`, { prompt: long.slice(0, 30), max_tokens: 40 });
  expectError(over, 400, 'max_tokens', 'context_length_exceeded');
  expect(over.json.error.message).toMatch(/70 were requested \(30 in the prompt, 40 in the completion\)/);
  const chatLong = await post(`${s.url}/v1/chat/completions`, chat({ messages: [{ role: 'user', content: 'the lighthouse keeper climbed the steps before dawn '.repeat(6) }], max_tokens: undefined }));
  expectError(chatLong, 400, 'messages', 'context_length_exceeded');

  const nf = await fetch(`${s.url}/v2/engines`);
  expect(nf.status).toBe(404);
  expectError({ status: nf.status, json: await nf.json() }, 404, null, 'unknown_url');
  expectError(await post(`${s.url}/detokenize`, { tokens: [1, -2] }), 400, 'tokens');
  expectError(await post(`${s.url}/tokenize`, { model: 'tiny' }), 400, 'prompt');
});

test('a body over bodyLimit is 413', async () => {
  const r = await post(`${s.url}/v1/chat/completions`, chat({ messages: [{ role: 'user', content: 'x'.repeat(5000) }] }));
  expectError(r, 413, null, 'request_too_large');
  // just under the limit is served
  expect((await post(`${s.url}/v1/chat/completions`, chat({ messages: [{ role: 'user', content: 'ab '.repeat(20) }], max_tokens: 2 }))).status).toBe(200);
});

test('API key: /v1, /tokenize and /detokenize need the Bearer key (401 otherwise); health, metrics and the page do not', async () => {
  const u = `${keyed.url}/v1/chat/completions`;
  expectError(await post(u, chat({})), 401, null, 'invalid_api_key', 'authentication_error');
  expectError(await post(u, chat({}), { authorization: 'Bearer wrong' }), 401, null, 'invalid_api_key');
  expectError(await post(u, chat({}), { authorization: 'sekret-42' }), 401, null, 'invalid_api_key');
  expectError(await post(`${keyed.url}/tokenize`, { prompt: 'x' }), 401, null);
  expect((await fetch(`${keyed.url}/v1/models`)).status).toBe(401);
  expect((await post(u, chat({}), { authorization: 'Bearer sekret-42' })).status).toBe(200);
  expect((await fetch(`${keyed.url}/health`)).status).toBe(200);
  expect((await fetch(`${keyed.url}/metrics`)).status).toBe(200);
  const page = await fetch(`${keyed.url}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect((await fetch(`${s.url}/`)).status).toBe(404);   // the page is off unless ui: true
  // through the client: the right key works, a wrong one raises AuthenticationError
  expect((await keyed.client.models.list()).data[0].id).toBe('tiny');
  const bad = new OpenAI({ apiKey: 'nope', baseURL: `${keyed.url}/v1`, maxRetries: 0 });
  await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  // the server without a key takes any
  expect((await post(`${s.url}/v1/chat/completions`, chat({}), { authorization: 'Bearer whatever' })).status).toBe(200);
});

test('engine failures are 500: thrown at submit (JSON), and mid-stream (an error event, then [DONE])', async () => {
  const real = Engine.load({ model: tiny.dir, id: 'tiny' });
  let mode: 'throw' | 'fail-mid-stream' = 'throw';
  const broken = {
    info: real.info, metrics: () => real.metrics(), tokenize: () => [], detokenize: () => '', tokenBytes: (ids: number[]) => ids.map(() => [120]), close: () => real.close(),
    submit: () => {
      if (mode === 'throw') throw new Error('kernel exploded');
      const h = new RequestHandle('req-x', 3, () => {});
      setTimeout(() => {
        h._push({ type: 'token', index: 0, token: 5, text: 'x', logprob: null, top: null });
        h._fail(new EngineError('forward pass failed: out of memory', 'internal_error', null, 500));
      }, 10);
      return h;
    },
  };
  const b = await startServer({ engine: broken });
  try {
    const r = await post(`${b.url}/v1/chat/completions`, chat({}));
    expectError(r, 500, null, 'internal_error', 'server_error');
    expect(r.json.error.message).toMatch(/kernel exploded/);
    mode = 'fail-mid-stream';
    const s2 = await post(`${b.url}/v1/chat/completions`, chat({ stream: true }));
    expect(s2.status).toBe(200);
    const events = sseData(s2.text);
    expect(events[events.length - 1]).toBe('[DONE]');
    expect(JSON.parse(events[1]).choices[0].delta.content).toBe('x');
    expect(JSON.parse(events[events.length - 2]).error).toMatchObject({ code: 'internal_error', type: 'server_error', message: expect.stringMatching(/out of memory/) });
  } finally { await b.server.close(); }
});
