// The worker-thread client: same tokens as the in-thread engine, the same typed errors (EngineError,
// QueueFull), cancellation through an AbortSignal, metrics and tokenize calls; and the main thread's
// event loop keeps ticking while the worker runs forward passes that would block it for long.
import { Engine, EngineError, QueueFull, startEngineWorker, type Completion, type RequestHandle } from '../src';
import { prompts, tinyModelDir, type TinyModel, removeTmpDirs } from './util/tiny';

let tiny: TinyModel;
beforeAll(async () => { tiny = await tinyModelDir('worker'); });
afterAll(() => { tiny.model.dispose(); removeTmpDirs(); });

function runInThread(reqs: Parameters<Engine['submit']>[0][]): Completion[] {
  const e = Engine.load({ model: tiny.dir, autoRun: false, eosTokenIds: [], maxBatch: 4 });
  try {
    const hs = reqs.map((r) => e.submit(r));
    e.runUntilIdle();
    return hs.map((h) => (h as unknown as { buffer: Completion[] }).buffer.find((x) => x.type === 'done')!);
  } finally { e.close(); }
}

test('the worker client gives the in-thread results, typed errors, cancellation, metrics', async () => {
  const V = tiny.tok.vocabSize;
  const ps = prompts(6, V, 31);
  const reqs = ps.map((p, i) => ({ prompt: p, maxTokens: 8, temperature: i % 2 ? 0.9 : 0, seed: i }));
  const want = runInThread(reqs);
  const client = await startEngineWorker({ model: tiny.dir, eosTokenIds: [], maxBatch: 1, maxQueue: 1 });
  try {
    expect(client.info).toMatchObject({ vocabSize: V, contextLength: 64, layers: 2, hiddenSize: 32, dtype: 'float32', hasTokenizer: true, maxBatch: 1 });
    let n = 0;
    for (const p of tiny.model.parameters()) n += p.data.size;
    expect(client.info.parameters).toBe(n);
    for (const [i, r] of reqs.entries()) {
      const h = await client.submit(r);
      const c = await h.result;
      expect(c.tokens).toEqual(want[i].tokens);
      expect(c.text).toBe(want[i].text);
    }
    await expect(client.submit({ prompt: ps[0], topP: 0 })).rejects.toMatchObject({ param: 'top_p', status: 400 });
    await expect(client.submit({ prompt: ps[0], topP: 0 })).rejects.toBeInstanceOf(EngineError);

    // one long request holds the only slot; one may wait, the next is refused; cancelling frees the slot
    const ac = new AbortController();
    const long = await client.submit({ prompt: ps[0], maxTokens: 50 }, { signal: ac.signal });
    const it = long[Symbol.asyncIterator]();
    await it.next();
    const waiting = await client.submit({ ...reqs[3], maxTokens: 2 });   // seeded: same first tokens as its full run
    await expect(client.submit({ prompt: ps[2], maxTokens: 2 })).rejects.toBeInstanceOf(QueueFull);
    await it.next();
    ac.abort();
    let last;
    for (;;) { const r = await it.next(); if (r.done) break; last = r.value; }
    expect(last).toMatchObject({ type: 'done', finishReason: 'cancelled' });
    expect((await waiting.result).tokens).toEqual(want[3].tokens.slice(0, 2));
    const m = await client.metrics();
    expect(m.requests).toMatchObject({ rejectedQueueFull: 1, rejectedInvalid: 2, finished: { cancelled: 1, length: 7 } });
    expect(m.tokens.generated).toBeGreaterThan(6 * 8);
    expect(await client.detokenize(await client.tokenize('the keeper', { addSpecialTokens: false }))).toBe('the keeper');
  } finally { await client.close(); }
  await expect(client.submit({ prompt: ps[0] })).rejects.toMatchObject({ code: 'engine_closed' });
});

test('the main thread keeps ticking while the worker runs long forward passes', async () => {
  const big = await tinyModelDir('worker-big', { hiddenSize: 256, intermediateSize: 768, numHiddenLayers: 8, numAttentionHeads: 8, numKeyValueHeads: 4, maxPositionEmbeddings: 1024 });
  big.model.dispose();
  const prompt = prompts(1, big.tok.vocabSize, 1, 900, 900)[0];
  const req = { prompt, maxTokens: 1, temperature: 0 };
  // how long one prefill blocks the thread it runs on
  const e = Engine.load({ model: big.dir, autoRun: false, eosTokenIds: [] });
  let stepMs: number;
  try {
    e.submit(req);
    e.step();   // warm-up
    e.submit(req);
    const t = performance.now();
    e.step();
    stepMs = performance.now() - t;
  } finally { e.close(); }
  expect(stepMs).toBeGreaterThan(40);

  const client = await startEngineWorker({ model: big.dir, eosTokenIds: [], maxBatch: 2 });
  let last = performance.now(), maxGap = 0, ticks = 0;
  const timer = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; ticks++; }, 2);
  try {
    const t = performance.now();
    last = t;
    const hs: RequestHandle[] = [];
    for (let i = 0; i < 4; i++) hs.push(await client.submit(req));
    await Promise.all(hs.map((h) => h.result));
    const total = performance.now() - t;
    expect(total).toBeGreaterThan(2 * stepMs);   // the work really happened, off this thread
    expect(ticks).toBeGreaterThan(total / 20);
    expect(maxGap).toBeLessThan(stepMs / 2);
    if (process.env.SERVE_TEST_VERBOSE) console.log({ stepMs, total, maxGap, ticks });
  } finally {
    clearInterval(timer);
    await client.close();
  }
});
