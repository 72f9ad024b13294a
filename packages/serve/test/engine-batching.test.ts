// Engine: greedy output equals generate() and full-forward argmax; continuous batching (requests
// joining mid-decode, slots reused, compaction of the cache timeline) never changes a sequence's
// tokens; the queue bounds waiting requests; seeded sampling does not depend on the batch.
import { memStats } from '@stellar/tensor';
import { generate } from '@stellar/nn';
import { Engine, QueueFull, type Completion, type RequestHandle } from '../src';
import { fullForwardGreedy, prompts, tinyModelDir, type TinyModel, removeTmpDirs } from './util/tiny';

let tiny: TinyModel;
beforeAll(async () => { tiny = await tinyModelDir('batching'); });
afterAll(() => { tiny.model.dispose(); removeTmpDirs(); });

const open = (o: ConstructorParameters<typeof Engine>[2] & { model?: string } = {}) => Engine.load({ model: tiny.dir, autoRun: false, eosTokenIds: [], ...o });
/** Steps until `h` is done and returns its completion. */
function finish(e: Engine, h: RequestHandle): Completion {
  while (!h.done) e.step();
  return peek(h)!;
}
/** The done event, read synchronously from the handle's buffer (the engine pushes it before returning). */
function peek(h: RequestHandle): Completion | null {
  const buf = (h as unknown as { buffer: { type: string }[] }).buffer;
  return (buf.find((e) => e.type === 'done') as Completion) ?? null;
}

test('greedy through the engine equals generate() greedy and full-forward argmax, alone and batched', () => {
  const V = tiny.tok.vocabSize;
  const ps = prompts(5, V, 3);
  const solo = ps.map((p) => generate(tiny.model, [p], { maxNewTokens: 10, temperature: 0 }).tokens[0]);
  ps.forEach((p, i) => expect(fullForwardGreedy(tiny.model, p, 10)).toEqual(solo[i]));
  const e = open({ maxBatch: 4 });
  try {
    for (const [i, p] of ps.entries()) expect(finish(e, e.submit({ prompt: p, maxTokens: 10, temperature: 0 })).tokens).toEqual(solo[i]);
    // all five at once: four prefilled together, the fifth waits for a slot
    const hs = ps.map((p) => e.submit({ prompt: p, maxTokens: 10, temperature: 0 }));
    expect(e.metrics().queueDepth).toBe(5);
    e.runUntilIdle();
    hs.forEach((h, i) => {
      expect(peek(h)!.tokens).toEqual(solo[i]);
      expect(peek(h)!.finishReason).toBe('length');
      expect(peek(h)!.usage).toEqual({ promptTokens: ps[i].length, completionTokens: 10, totalTokens: ps[i].length + 10 });
    });
    const m = e.metrics();
    expect(m.passes.prefill).toBe(5 + 2);
    expect(m.activeSequences).toBe(0);
  } finally { e.close(); }
});

test('requests joining mid-decode, leaving early and waiting for slots give the tokens each gives alone', () => {
  const V = tiny.tok.vocabSize;
  const ps = prompts(9, V, 21, 1, 14);
  const budgets = [12, 3, 9, 20, 5, 14, 7, 16, 2];
  const solo = ps.map((p, i) => fullForwardGreedy(tiny.model, p, budgets[i]));
  const e = open({ maxBatch: 3, maxQueue: 16 });
  try {
    const hs: RequestHandle[] = [];
    const sub = (i: number) => hs.push(e.submit({ prompt: ps[i], maxTokens: budgets[i], temperature: 0 }));
    let maxActive = 0, sawWaiting = false;
    const stepN = (n: number) => {
      for (let k = 0; k < n; k++) {
        e.step();
        const m = e.metrics();
        maxActive = Math.max(maxActive, m.activeSequences);
        if (m.queueDepth > 0 && m.activeSequences === 3) sawWaiting = true;
      }
    };
    sub(0); stepN(4);
    sub(1); sub(2); stepN(2);          // join while 0 is mid-decode
    sub(3); sub(4); sub(5); stepN(3);  // more than the free slots: some wait
    sub(6); stepN(1); sub(7); sub(8);
    e.runUntilIdle();
    hs.forEach((h, i) => expect({ i, tokens: peek(h)!.tokens }).toEqual({ i, tokens: solo[i] }));
    expect(maxActive).toBe(3);
    expect(sawWaiting).toBe(true);
    expect(e.metrics().requests.finished.length).toBe(9);
  } finally { e.close(); }
});

test('a long-running mix that outgrows the cache columns is compacted and stays exact', () => {
  const V = tiny.tok.vocabSize;
  const ps = prompts(8, V, 77, 3, 10);
  const budget = 40;   // with maxContext 56 the timeline passes its capacity (56 + 16) while rows keep arriving
  const solo = ps.map((p) => fullForwardGreedy(tiny.model, p, budget));
  const e = open({ maxBatch: 3, maxContext: 56 });
  try {
    const hs: RequestHandle[] = [];
    for (let i = 0; i < ps.length; i++) {
      hs.push(e.submit({ prompt: ps[i], maxTokens: budget, temperature: 0 }));
      for (let k = 0; k < 13; k++) e.step();
    }
    e.runUntilIdle();
    hs.forEach((h, i) => expect(peek(h)!.tokens).toEqual(solo[i]));
    expect(e.metrics().passes.compactions).toBeGreaterThan(0);
  } finally { e.close(); }
});

test('a full queue refuses with QueueFull (429); the accepted requests all complete', () => {
  const e = open({ maxBatch: 2, maxQueue: 1 });
  try {
    const ps = prompts(4, tiny.tok.vocabSize, 5);
    const hs = ps.slice(0, 3).map((p) => e.submit({ prompt: p, maxTokens: 4, temperature: 0 }));   // 2 free slots + 1 waiting
    let err: unknown;
    try { e.submit({ prompt: ps[3], maxTokens: 4 }); } catch (x) { err = x; }
    expect(err).toBeInstanceOf(QueueFull);
    expect(err).toMatchObject({ status: 429, code: 'queue_full' });
    expect(e.metrics().requests.rejectedQueueFull).toBe(1);
    e.runUntilIdle();
    for (const h of hs) expect(peek(h)!.usage.completionTokens).toBe(4);
    // once drained, there is room again
    expect(() => e.submit({ prompt: ps[3], maxTokens: 1 })).not.toThrow();
  } finally { e.close(); }
});

test('seeded sampling is reproducible per request whatever else shares the batch', () => {
  const V = tiny.tok.vocabSize;
  const [p, ...others] = prompts(5, V, 9);
  const req = { prompt: p, maxTokens: 16, temperature: 1.1, topK: 40, topP: 0.95, seed: 1234 };
  const e = open({ maxBatch: 4 });
  try {
    const alone = finish(e, e.submit(req)).tokens;
    const hs = others.slice(0, 2).map((o, i) => e.submit({ prompt: o, maxTokens: 20, temperature: 1, seed: i }));
    e.step(); e.step();
    const mid = e.submit(req);   // joins mid-decode, next to rows with other seeds
    hs.push(e.submit({ prompt: others[2], maxTokens: 5, temperature: 0.7, seed: 99 }));
    e.runUntilIdle();
    expect(peek(mid)!.tokens).toEqual(alone);
    const other = finish(e, e.submit({ ...req, seed: 4321 })).tokens;
    expect(other).not.toEqual(alone);
  } finally { e.close(); }
});

test('serving holds no native memory beyond the model and its cache: live buffers return to the same count', () => {
  const atStart = memStats().liveBuffers;
  const e = open({ maxBatch: 3, maxContext: 40 });
  try {
    const ps = prompts(6, tiny.tok.vocabSize, 55, 2, 12);
    const round = () => {
      const hs = ps.map((p, i) => e.submit({ prompt: p, maxTokens: 6 + i * 4, temperature: i % 2 ? 1 : 0, seed: i, logprobs: true, topLogprobs: 2 }));
      e.step(); e.step();
      hs[1].cancel();
      e.runUntilIdle();
    };
    round();
    const before = memStats().liveBuffers;
    for (let i = 0; i < 3; i++) round();
    expect(memStats().liveBuffers).toBe(before);
  } finally { e.close(); }
  expect(memStats().liveBuffers).toBe(atStart);   // close() frees the weights and the cache
});

test('long prompts prefill in chunks between decode steps: running streams keep a token per step, tokens unchanged', () => {
  const V = tiny.tok.vocabSize;
  const long = prompts(3, V, 61, 20, 40);
  const [short] = prompts(1, V, 62, 3, 3);
  const soloLong = long.map((p) => fullForwardGreedy(tiny.model, p, 6));
  const soloShort = fullForwardGreedy(tiny.model, short, 40);
  const e = open({ maxBatch: 4, prefillChunk: 8 });   // 3 rows -> 2 columns per pass
  try {
    const running = e.submit({ prompt: short, maxTokens: 40, temperature: 0 });
    e.step(); e.step();
    const hs = long.map((p) => e.submit({ prompt: p, maxTokens: 6, temperature: 0 }));
    const L = Math.max(...long.map((p) => p.length));
    const passes0 = e.metrics().passes.prefill;
    const count = () => (running as unknown as { buffer: { type: string }[] }).buffer.filter((x) => x.type === 'token').length;
    let steps = 0;
    while (hs.some((h) => (h as unknown as { buffer: unknown[] }).buffer.length === 0)) {
      const n = count();
      e.step();
      steps++;
      expect(count()).toBe(n + 1);   // the running stream is never stalled by the prefill
    }
    expect(steps).toBe(Math.ceil(L / 2));
    expect(e.metrics().passes.prefill - passes0).toBe(Math.ceil(L / 2));
    expect(e.metrics().passes.prefillTokens).toBe(short.length + long.reduce((a, p) => a + p.length, 0));
    e.runUntilIdle();
    hs.forEach((h, i) => expect(peek(h)!.tokens).toEqual(soloLong[i]));
    expect(peek(running)!.tokens).toEqual(soloShort);
    // cancelled while its prompt is still prefilling: no token, and the slot is free again
    const c = e.submit({ prompt: long[0], maxTokens: 6, temperature: 0 });
    e.step();
    expect(e.metrics().activeSequences).toBe(1);
    const passes = e.metrics().passes.prefill;
    c.cancel();
    e.runUntilIdle();
    expect(peek(c)).toMatchObject({ finishReason: 'cancelled', tokens: [] });
    expect(e.metrics().passes.prefill).toBe(passes);   // the rest of its prefill was skipped
    expect(e.metrics().activeSequences).toBe(0);
  } finally { e.close(); }
});
