// Benchmark: the fixed cost of one op call on tiny tensors (shape [4]), where the kernel itself is
// negligible: argument packing, the N-API call, output allocation, Tensor construction, autograd
// recording and dispose. Also the raw addon call and allocator round trip, to split the cost.
// Usage (after `npx tsup`): node bench/op-overhead.bench.mjs   Writes <repo>/.bench/op-overhead.md.
import { native, kernel } from '@stellar/native';
import { Tensor, add, mul, exp, sum, matmul, transpose, tidy } from '@stellar/tensor';
import { now, stats, fmt, table, writeSection } from './bench-util.mjs';

const CALLS = Number(process.env.STELLAR_BENCH_CALLS ?? 100_000);  // calls per timed run
const RUNS = Number(process.env.STELLAR_BENCH_RUNS ?? 9);          // timed runs per case
const TARGET_US = 5;

const v4 = () => Tensor.fromArray(new Float32Array([0.5, -1, 2, 0.25]), [4]);
const a = v4(), b = v4();
const ag = v4().requiresGrad_(), bg = v4().requiresGrad_();
const m = Tensor.fromArray(new Float32Array([1, 2, 3, 4]), [2, 2]);

// cpu/fill on a [4] float32 tensor: value, then the tensor (handle, dtype code, offset, ndim, shape, strides).
const fillId = kernel('cpu/fill');
const fillArgs = new Float64Array([1.5, a.storage.handle, 0, 0, 1, 4, 1]);

/** [label, what is measured, body]; the body runs once per call and frees what it creates. */
const cases = [
  ['`native.exec` (raw addon call)', 'cpu/fill on 4 floats, prebuilt Float64Array of 7 args', () => native.exec(fillId, fillArgs)],
  ['`native.alloc` + `native.free`', '16 bytes, served by the caching allocator', () => native.free(native.alloc(16, 0))],
  ['`Tensor.empty([4])` + `dispose()`', 'storage, Tensor object, scope/finalizer registration', () => Tensor.empty([4]).dispose()],
  ['`add(a, b)`', 'binary kernel, broadcast strides', () => add(a, b).dispose()],
  ['`mul(a, 2)`', 'scalar → affine unary kernel', () => mul(a, 2).dispose()],
  ['`exp(a)`', 'unary kernel', () => exp(a).dispose()],
  ['`sum(a)`', 'full reduction to a scalar', () => sum(a).dispose()],
  ['`matmul(m, m)` 2×2', 'BLAS sgemm through cpu/gemm', () => matmul(m, m).dispose()],
  ['`transpose(m)`', 'view op: no kernel, shares storage', () => transpose(m).dispose()],
  ['`add(a, b)`, requiresGrad', 'records an autograd node', () => add(ag, bg).dispose()],
  ['`tidy(() => add(a, b))`', 'scope instead of dispose()', () => tidy(() => { add(a, b); })],
];

/** µs per call by wall time, and by process CPU time (which the shared host's load barely moves). */
function timeCase(body) {
  for (let i = 0; i < CALLS / 5; i++) body();  // warm-up: JIT and allocator cache
  const wall = [], cpu = [];
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage();
    const t0 = now();
    for (let i = 0; i < CALLS; i++) body();
    wall.push(((now() - t0) / CALLS) * 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / CALLS);
  }
  return { s: stats(wall), cpu: stats(cpu) };
}

const liveBefore = native.memStats().liveBuffers;
const rows = [];
const results = [];
for (const [label, what, body] of cases) {
  const { s, cpu } = timeCase(body);
  results.push({ label, s, cpu });
  rows.push([label, what, fmt(s.median), `${fmt(s.min)}–${fmt(s.max)}`, fmt(cpu.median)]);
  console.log(`[op-overhead] ${label.padEnd(36)} ${fmt(s.median)} µs (${fmt(s.min)}–${fmt(s.max)}), CPU ${fmt(cpu.median)} µs`);
}
const leaked = native.memStats().liveBuffers - liveBefore;
if (leaked !== 0) throw new Error(`op-overhead: ${leaked} native buffers leaked by the timed loops`);
for (const t of [a, b, ag, bg, m]) t.dispose();

const ops = results.slice(3);
const worst = ops.reduce((w, r) => (r.s.median > w.s.median ? r : w));
const exec = results[0].s.median;
const md = `## Per-op overhead (tiny tensors)

Command: \`cd packages/tensor && node bench/op-overhead.bench.mjs\` (part of \`pnpm bench\`)

Wall time per call in µs on shape-[4] float32 tensors (matmul: 2×2), ${CALLS.toLocaleString('en-US')} calls per run, median of ${RUNS} runs (range: fastest–slowest run), each result freed with \`dispose()\` unless noted. At this size the kernel does almost nothing, so this is the fixed cost every op pays. Target: under ${TARGET_US} µs per op. The first three rows split that cost into its parts. The last column is the process's CPU time per call (median), which the shared host's load barely moves; it includes V8's background GC threads.

${table(['call', 'what it exercises', 'µs / call', 'range', 'CPU µs / call'], rows)}

The slowest op here is ${worst.label} at ${fmt(worst.s.median)} µs (${worst.s.median < TARGET_US ? 'within' : 'over'} the ${TARGET_US} µs target). Of each op's cost, about ${fmt(exec)} µs is the N-API call itself (argument decoding, the handle-table lookup under a mutex, the kernel); the rest is JavaScript: packing arguments into the shared Float64Array, the output's allocation through the caching allocator (one more N-API call) and its Tensor object, scope and FinalizationRegistry bookkeeping, and for recorded ops the autograd node. Views skip the kernel and the allocation. Numbers move by ±10–20% with the shared host's load and V8's garbage collector, which runs inside the timed loops as it would in a user's.
`;
writeSection('op-overhead', md);
