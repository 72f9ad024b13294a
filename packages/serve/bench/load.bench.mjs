// Bench wrapper around the load test (load.mjs): 8 concurrent streaming clients, 64 chat requests of
// 32 tokens, six identical rounds against a server on 127.0.0.1; writes <repo>/.bench/serve-load.md.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSection } from '../../tensor/bench/bench-util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = ['--clients', '8', '--requests', '64', '--max-tokens', '32', '--max-batch', '8', '--max-queue', '64', '--rounds', '6'];
const r = spawnSync(process.execPath, [path.join(here, 'load.mjs'), ...args], { cwd: path.join(here, '..'), encoding: 'utf8', maxBuffer: 1 << 24 });
if (r.status !== 0) throw new Error(`load test failed: ${r.stderr}`);
const lines = r.stdout.trim().split('\n');
const table = lines.filter((l) => l.startsWith('|')).join('\n');
const errors = lines.filter((l) => l.trim().startsWith('error:'));
const memory = lines.find((l) => l.startsWith('memory:')) ?? '';
const head = lines.find((l) => l.startsWith('load test:')) ?? '';
writeSection('serve-load', `## Serving load test: concurrent streaming clients over HTTP

Command: \`cd packages/serve && node bench/load.mjs ${args.join(' ')}\` (part of \`pnpm bench\` via \`bench/load.bench.mjs\`)

${head.replace(/^load test: /, 'Setup: ')}. The server (\`createServer\` with the engine in a worker thread) listens on 127.0.0.1; each client streams chat completions (SSE) one after another until the ${64} requests are done. TTFT = time from sending the request to the first content chunk; ITL = gap between consecutive content chunks; both over every request of the round. Six identical rounds: RSS grows over the first rounds while V8's heaps (main thread and engine worker) reach their working size and then levels off; native live bytes (the tensor allocator) must not move at all. Host: ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(1)).join(', ')} at the end.

${table}

${memory}${errors.length ? `\n\nErrors (first ones): ${errors.slice(0, 3).join('; ')}` : '\n\nErrors: none (the queue limit, 64, is above the 8 clients).'}

What limits it: each decode step is one batched forward over the active streams in the worker thread; with 8 clients the batch stays near 8 rows, so throughput is the 8-stream decode rate of the serving bench minus HTTP/SSE and tokenizer work on the main thread, and TTFT includes waiting for a free slot and for the prefill chunk of a new request to be scheduled between decode steps.
`);
console.log(r.stdout);
