// Load test (run by hand; bounded): N concurrent streaming clients send a fixed number of chat requests to
// a server on 127.0.0.1 and we report throughput, p50/p95 TTFT and inter-token latency, errors, and the
// process RSS and native live bytes before and after (a second identical round shows whether memory grows).
// Usage (after `npx tsup` in native/tensor/nn/tokenizer/serve):
//   node bench/load.mjs [--model <dir>] [--clients 8] [--requests 64] [--max-tokens 32] [--max-batch 8] [--max-queue 64] [--threads N]
// Without --model a small random model (dim 256, 4 layers, vocab ~512) is made in a temp dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createServer, startEngineWorker } from '@stellar/serve';
import { memStats } from '@stellar/tensor';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, clients: { type: 'string', default: '8' }, requests: { type: 'string', default: '64' },
    'max-tokens': { type: 'string', default: '32' }, 'max-batch': { type: 'string', default: '8' }, 'max-queue': { type: 'string', default: '64' },
    threads: { type: 'string' }, rounds: { type: 'string', default: '2' },
  },
});
const CLIENTS = Number(a.clients), REQUESTS = Number(a.requests), MAX_TOKENS = Number(a['max-tokens']), ROUNDS = Number(a.rounds);

async function randomModelDir() {
  const { StellarForCausalLM, makeConfig, savePretrained } = await import('@stellar/nn');
  const { trainBpe, saveTokenizer } = await import('@stellar/tokenizer');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-load-'));
  const text = ['The lighthouse keeper climbed the steps before dawn.', 'Ships came home at dusk; the keeper wiped the lens.', 'Fog rolled over the harbour and the bell rang twice.'];
  const tok = await trainBpe(text, { vocabSize: 512, eosToken: '<|endoftext|>', numThreads: 1 });
  const model = new StellarForCausalLM(makeConfig({ vocabSize: tok.vocabSize, hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4, numAttentionHeads: 8, numKeyValueHeads: 4, maxPositionEmbeddings: 512 }));
  savePretrained(model, dir);
  saveTokenizer(tok, dir);
  model.dispose();
  return dir;
}

const pct = (xs, p) => { if (!xs.length) return NaN; const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const mb = (b) => (b / 2 ** 20).toFixed(1);

/** One streaming chat request; returns its TTFT, inter-token gaps and token count (or the error). */
async function one(url, i) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: `request ${i}: the keeper climbed the steps` }], max_tokens: MAX_TOKENS, temperature: 0.8, seed: i, stream: true, stream_options: { include_usage: true }, ignore_eos: true }),
  });
  if (r.status !== 200) return { error: `HTTP ${r.status}: ${(await r.text()).slice(0, 200)}` };
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '', ttft = null, last = null, tokens = 0;
  const gaps = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const data = buf.slice(6, cut);
      buf = buf.slice(cut + 2);
      if (data === '[DONE]') continue;
      const c = JSON.parse(data);
      if (c.error) return { error: c.error.message };
      if (c.usage) tokens = c.usage.completion_tokens;
      if (c.choices?.[0]?.delta?.content) {
        const now = performance.now();
        if (ttft === null) ttft = now - t0; else gaps.push(now - last);
        last = now;
      }
    }
  }
  return { ttft, gaps, tokens };
}

async function round(url) {
  let next = 0;
  const results = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < REQUESTS) results.push(await one(url, next++));
  }));
  const wall = (performance.now() - t0) / 1000;
  const ok = results.filter((r) => !r.error);
  const tokens = ok.reduce((s, r) => s + r.tokens, 0);
  return {
    wall, tokens, requests: ok.length, errors: results.filter((r) => r.error).map((r) => r.error),
    ttft: ok.map((r) => r.ttft).filter((x) => x !== null), itl: ok.flatMap((r) => r.gaps),
  };
}

const dir = a.model ?? await randomModelDir();
const engine = await startEngineWorker({ model: dir, maxBatch: Number(a['max-batch']), maxQueue: Number(a['max-queue']), threads: a.threads ? Number(a.threads) : undefined });
const server = createServer({ engine, port: 0 });
const { url } = await server.listen();
console.log(`load test: ${url}, model ${engine.info.id} (${(engine.info.parameters / 1e6).toFixed(1)}M params), ${CLIENTS} clients x ${REQUESTS} requests x ${MAX_TOKENS} tokens, batch ${engine.info.maxBatch}`);
await one(url, -1);   // warm-up
const mem = () => ({ rss: process.memoryUsage().rss, native: memStats().liveBytes });
const before = mem();
console.log('| round | wall s | req/s | completion tok/s | TTFT p50 / p95 ms | ITL p50 / p95 ms | errors | RSS MB | native live MB |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (let k = 1; k <= ROUNDS; k++) {
  const r = await round(url);
  const m = mem();
  console.log(`| ${k} | ${r.wall.toFixed(2)} | ${(r.requests / r.wall).toFixed(2)} | ${(r.tokens / r.wall).toFixed(1)} | ${pct(r.ttft, 0.5).toFixed(1)} / ${pct(r.ttft, 0.95).toFixed(1)} | ${pct(r.itl, 0.5).toFixed(1)} / ${pct(r.itl, 0.95).toFixed(1)} | ${r.errors.length} | ${mb(m.rss)} | ${mb(m.native)} |`);
  for (const e of r.errors.slice(0, 3)) console.log(`  error: ${e}`);
}
const after = mem();
console.log(`memory: RSS ${mb(before.rss)} -> ${mb(after.rss)} MB, native live ${mb(before.native)} -> ${mb(after.native)} MB (native bytes as seen by this process; the engine's worker shares the allocator)`);
await server.close();
if (!a.model) fs.rmSync(dir, { recursive: true, force: true });
