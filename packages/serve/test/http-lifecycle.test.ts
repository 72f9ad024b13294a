// The server over time, on an in-thread engine paced at one step per few ms so a test can act mid-way:
// a client that disconnects (streaming or not) cancels its generation and frees the slot; a full queue
// answers 429 while earlier requests still finish; request timeouts answer 504 (an error event when
// streaming); graceful shutdown finishes an in-flight stream, and cancels it past the drain deadline.
import OpenAI from 'openai';
import { fullForwardGreedy, removeTmpDirs, tinyModelDir, type TinyModel } from './util/tiny';
import { pacedEngine, post, sseData, startServer, until } from './util/http-server';

let tiny: TinyModel;
beforeAll(async () => { tiny = await tinyModelDir('http-life'); });
afterAll(() => { tiny?.model.dispose(); removeTmpDirs(); });

const long = (maxTokens: number, stream = false) => ({ prompt: 'the keeper', max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream });

/** Reads an SSE response until `n` data events arrived; returns them and the reader. */
async function readEvents(res: Response, n: number): Promise<{ events: string[]; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  while (sseData(buf).length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
  }
  return { events: sseData(buf), reader };
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, head: string[]): Promise<string[]> {
  const dec = new TextDecoder();
  let buf = head.map((d) => `data: ${d}\n\n`).join('');
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
  }
  return sseData(buf);
}

test('a client that disconnects mid-stream, or before a JSON answer, cancels its generation and frees the slot', async () => {
  const { engine, stop } = pacedEngine(tiny.dir, 10, { maxBatch: 1, maxQueue: 4 });
  const s = await startServer({ engine });
  try {
    const ac = new AbortController();
    const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(long(50, true)), signal: ac.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await readEvents(res, 3);
    expect(engine.metrics().activeSequences).toBe(1);
    ac.abort();
    await until(() => engine.metrics().requests.finished.cancelled === 1, 5000, 'the stream to be cancelled');
    expect(engine.metrics().activeSequences).toBe(0);
    const generated = engine.metrics().tokens.generated;
    expect(generated).toBeLessThan(50);

    // non-streaming: the client gives up while the answer is being generated
    const ac2 = new AbortController();
    const pending = fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(long(50)), signal: ac2.signal }).catch((e) => e);
    await until(() => engine.metrics().tokens.generated >= generated + 3, 5000, 'the JSON request to start');
    ac2.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    await until(() => engine.metrics().requests.finished.cancelled === 2, 5000, 'the JSON request to be cancelled');

    // the slot is free: the next request is served whole
    const ok = await post(`${s.url}/v1/completions`, long(5));
    expect(ok.status).toBe(200);
    expect(ok.json.choices[0].finish_reason).toBe('length');
    expect(engine.metrics()).toMatchObject({ activeSequences: 0, queueDepth: 0, requests: { finished: { cancelled: 2, length: 1 } } });
  } finally { await s.server.close(); stop(); }
});

test('a full queue answers 429 while the earlier requests still finish', async () => {
  const { engine, stop } = pacedEngine(tiny.dir, 10, { maxBatch: 1, maxQueue: 1 });
  const s = await startServer({ engine });
  try {
    const first = post(`${s.url}/v1/completions`, long(20));
    await until(() => engine.metrics().activeSequences === 1, 5000, 'the first request to run');
    const second = post(`${s.url}/v1/completions`, long(4));
    await until(() => engine.metrics().queueDepth === 1, 5000, 'the second request to wait');
    const third = await post(`${s.url}/v1/completions`, long(4));
    expect(third.status).toBe(429);
    expect(third.json.error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });
    const err = await s.client.completions.create({ model: engine.info.id, prompt: 'x', max_tokens: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.json.usage.completion_tokens).toBe(20);
    expect(b.json.usage.completion_tokens).toBe(4);
  } finally { await s.server.close(); stop(); }

  // the server's own limit (maxQueue beyond the engine's batch) refuses before the engine sees the request
  const p2 = pacedEngine(tiny.dir, 10, { maxBatch: 1, maxQueue: 8 });
  const s2 = await startServer({ engine: p2.engine, maxQueue: 0 });
  try {
    const first = post(`${s2.url}/v1/completions`, long(10));
    await until(() => p2.engine.metrics().activeSequences === 1, 5000, 'the first request to run');
    const r = await post(`${s2.url}/v1/completions`, long(2));
    expect(r.status).toBe(429);
    expect((await first).status).toBe(200);
  } finally { await s2.server.close(); p2.stop(); }
});

test('a request over requestTimeoutMs is cancelled: 504 for JSON, an error event for a stream', async () => {
  const { engine, stop } = pacedEngine(tiny.dir, 15, { maxBatch: 2 });
  const s = await startServer({ engine, requestTimeoutMs: 200 });
  try {
    const t0 = performance.now();
    const r = await post(`${s.url}/v1/completions`, long(50));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.status).toBe(504);
    expect(r.json.error).toMatchObject({ type: 'timeout_error', code: 'request_timeout', param: null });
    const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(long(50, true)) });
    expect(res.status).toBe(200);
    const events = await readAll(res.body!.getReader(), []);
    expect(events[events.length - 1]).toBe('[DONE]');
    const err = JSON.parse(events[events.length - 2]);
    expect(err.error).toMatchObject({ code: 'request_timeout' });
    expect(events.length).toBeGreaterThan(3);
    // the openai client raises the streamed error
    const stream = await s.client.completions.create({ model: engine.info.id, ...long(50), stream: true } as never) as unknown as AsyncIterable<unknown>;
    await expect((async () => { for await (const _ of stream); })()).rejects.toThrow(/longer than 200 ms/);
    await until(() => engine.metrics().activeSequences === 0, 5000, 'slots to be freed');
    expect(engine.metrics().requests.finished.cancelled).toBe(3);
    // a short request is served
    expect((await post(`${s.url}/v1/completions`, long(3))).status).toBe(200);
  } finally { await s.server.close(); stop(); }
});

test('graceful shutdown: an in-flight stream finishes, new requests are refused, then the engine closes', async () => {
  const { engine, stop } = pacedEngine(tiny.dir, 10, { maxBatch: 2 });
  const s = await startServer({ engine });
  const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(long(25, true)) });
  const { events, reader } = await readEvents(res, 2);
  const closed = s.server.close();
  let closedYet = false;
  void closed.then(() => { closedYet = true; });
  // a new connection is refused; one that was open gets 503
  const refused = await post(`${s.url}/v1/completions`, long(2)).then((r) => r.status, () => 'connection refused');
  expect([503, 'connection refused']).toContain(refused);
  expect(closedYet).toBe(false);
  const all = await readAll(reader, events);
  expect(all[all.length - 1]).toBe('[DONE]');
  const chunks = all.slice(0, -1).map((d) => JSON.parse(d));
  expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe('length');
  expect(chunks.map((c) => c.choices[0].text).join('')).toBe(tiny.tok.decode(fullForwardGreedy(tiny.model, tiny.tok.encode('the keeper'), 25)));
  await closed;
  expect(engine.metrics().requests.finished.length).toBe(1);
  expect(() => engine.submit({ prompt: [5] })).toThrow(/closed/);
  stop();

  // past the drain deadline what is left is cancelled and told so
  const p2 = pacedEngine(tiny.dir, 20, { maxBatch: 2 });
  const s2 = await startServer({ engine: p2.engine, drainTimeoutMs: 150 });
  const res2 = await fetch(`${s2.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(long(55, true)) });
  const head = await readEvents(res2, 2);
  const t0 = performance.now();
  await s2.server.close();
  expect(performance.now() - t0).toBeLessThan(3000);
  const rest = await readAll(head.reader, head.events);
  expect(JSON.parse(rest[rest.length - 2]).error).toMatchObject({ code: 'server_shutting_down' });
  p2.stop();
});
