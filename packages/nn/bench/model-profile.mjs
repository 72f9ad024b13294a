// Where a StellarForCausalLM training step spends its time: runs a few steps under V8's sampling
// profiler (node:inspector) and attributes every sample to the native kernel being called (read from
// the `.run(device, "kernel")` call in @stellar/tensor's dist), forward or backward, or to JavaScript.
// Usage: node bench/model-profile.mjs [small|base] [steps] [--json] [--precision bf16]   (model.bench.mjs runs it too)
// With --precision bf16 the forward runs under autocast('bfloat16') and the bf16 casts autocast adds
// (operands in forward, the output gradient in backward) are counted apart from other copies.
import fs from 'node:fs';
import inspector from 'node:inspector';
import { fileURLToPath } from 'node:url';
import * as T from '@stellar/tensor';
import { StellarForCausalLM, makeConfig } from '@stellar/nn';

const CONFIGS = {
  small: { vocabSize: 8192, hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 8, numAttentionHeads: 8, numKeyValueHeads: 4, seq: 256, batch: 16 },
  base: { vocabSize: 8192, hiddenSize: 512, intermediateSize: 1376, numHiddenLayers: 8, numAttentionHeads: 8, numKeyValueHeads: 4, seq: 512, batch: 8 },
};
const name = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'small';
const steps = Number(process.argv[3] && !process.argv[3].startsWith('--') ? process.argv[3] : 3);
const asJson = process.argv.includes('--json');
const pi = process.argv.indexOf('--precision');
const precision = pi > 0 ? process.argv[pi + 1] : 'fp32';
if (precision !== 'fp32' && precision !== 'bf16') throw new Error(`--precision must be fp32 or bf16, got ${precision}`);
const { seq: S, batch: B, ...fields } = CONFIGS[name];
const model = new StellarForCausalLM(makeConfig(fields), { seed: 0 });
const ids = T.Tensor.fromArray(Array.from({ length: B * S }, (_, i) => (i * 7919 + 13) % fields.vocabSize), [B, S], { dtype: 'int32' });   // (B, T)
const step = () => T.tidy(() => {
  const { loss } = T.autocast(precision === 'bf16' ? 'bfloat16' : null, () => model.forward(ids, { labels: ids }));
  loss.backward();
  loss.item();
  model.zeroGrad();
});

const session = new inspector.Session();
session.connect();
const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
step();   // warm-up: first-call allocations and JIT stay out of the profile
await post('Profiler.enable');
await post('Profiler.setSamplingInterval', { interval: 200 });   // µs
await post('Profiler.start');
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const wallMs = (performance.now() - t0) / steps;
const { profile } = await post('Profiler.stop');
session.disconnect();

// ---- attribution ------------------------------------------------------------------------------
const sources = new Map();   // url -> lines
const lineOf = (url, line) => {
  if (!url.startsWith('file://')) return '';
  if (!sources.has(url)) sources.set(url, fs.readFileSync(fileURLToPath(url), 'utf8').split('\n'));
  return sources.get(url)[line] ?? '';
};
/** The native kernel a JS function launches: the first `.run(device, "kernel")` in its body. */
function kernelOf(f) {
  for (let l = f.lineNumber; l < f.lineNumber + 40; l++) {
    const m = lineOf(f.url, l).match(/\.run\([^,()]+, "([a-z0-9_]+)"\)/);
    if (m) return m[1];
  }
  return null;
}
const CATEGORIES = [
  [/^gemm/, 'GEMM (matmul)'], [/^attention/, 'attention (fused kernel)'], [/^fused_cross_entropy/, 'cross-entropy'],
  [/^fused_rmsnorm/, 'RMSNorm'], [/^fused_swiglu/, 'SwiGLU'], [/^fused_rope/, 'RoPE'], [/^copy/, 'copies (contiguous, slice, cast)'],
  [/^fill/, 'fill (zeros)'], [/^(binary|unary)/, 'elementwise (add, ...)'], [/^index_/, 'embedding lookup / its gradient'],
];
const category = (kernel) => CATEGORIES.find(([re]) => re.test(kernel))?.[1] ?? `other kernels (${kernel})`;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const time = new Map();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const frames = [];
  for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) frames.push(byId.get(id).callFrame);
  const backward = frames.some((f) => f.functionName === 'backward');
  const leaf = frames[0];
  let key;
  if (leaf.functionName === '(garbage collector)') key = 'JS: garbage collection';
  else if (leaf.functionName === '(idle)' || leaf.functionName === '(program)') key = 'other (idle, native runtime)';
  else {
    // a sample inside the native call is a frame without script (the addon's exec) under args.ts's `run`
    const r = leaf.functionName === 'run' ? 0 : leaf.url === '' && frames[1]?.functionName === 'run' ? 1 : -1;
    const kernel = r >= 0 && frames[r + 1] ? kernelOf(frames[r + 1]) : null;
    key = kernel ? category(kernel) : r >= 0 ? 'other kernels' : 'JS: ops, autograd, scopes';
    if (kernel && /^copy/.test(kernel) && frames.some((f) => f.functionName === 'toBf16' || f.functionName === 'gradToBf16')) key = 'bf16 casts (autocast)';
  }
  const k = `${backward ? 'backward' : 'forward'}|${key}`;
  time.set(k, (time.get(k) ?? 0) + dt);
}
const rows = [...time].map(([k, us]) => { const [pass, what] = k.split('|'); return { pass, what, share: us / total, msPerStep: us / 1e3 / steps }; })
  .sort((a, b) => b.share - a.share);
const result = { config: name, precision, steps, threads: T.numThreads(), wallMsPerStep: wallMs, rows };
if (asJson) console.log(JSON.stringify(result));
else {
  console.log(`${name} ${precision}: ${wallMs.toFixed(0)} ms per step over ${steps} profiled steps (${T.numThreads()} threads)`);
  for (const r of rows) if (r.share >= 0.001) console.log(`${(100 * r.share).toFixed(1).padStart(5)} %  ${r.msPerStep.toFixed(1).padStart(7)} ms  ${r.pass.padEnd(8)}  ${r.what}`);
}
