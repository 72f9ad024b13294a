// Our side of packages/nn/bench/model.bench.mjs: builds StellarForCausalLM through @stellar/nn's public
// API and times training steps (forward with labels + backward + zeroGrad; optionally an AdamW update)
// on request over stdin/stdout, with the same protocol as tools/bench/llama_torch.py
// (step <n>, adamw <n>, mem, quit). Not a bench itself. `--precision bf16` runs the forward (and loss)
// under autocast('bfloat16') (bf16 GEMMs, fp32 weights and gradients), backward outside it, as the
// Trainer does for train.precision=bf16.
// Usage: node bench/model-step.mjs --vocab V --dim C --layers L --heads H --kv-heads K --ffn F --seq T --batch B [--precision fp32|bf16]
import fs from 'node:fs';
import readline from 'node:readline';
import * as T from '@stellar/tensor';
import { StellarForCausalLM, makeConfig } from '@stellar/nn';

const reply = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

/** VmRSS / VmHWM of this process in bytes (Linux /proc); null elsewhere. */
function rssBytes(field) {
  try {
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s*(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : null;
  } catch { return null; }
}
/** Restarts VmHWM from the current RSS (Linux >= 4.0), so the peak excludes the model build. */
function resetPeakRss() { try { fs.writeFileSync('/proc/self/clear_refs', '5'); } catch { /* not Linux */ } }

const argv = process.argv.slice(2);
const arg = (name) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) throw new Error(`model-step.mjs: missing --${name}`);
  return Number(argv[i + 1]);
};
const precision = argv.includes('--precision') ? argv[argv.indexOf('--precision') + 1] : 'fp32';
if (precision !== 'fp32' && precision !== 'bf16') throw new Error(`model-step.mjs: --precision must be fp32 or bf16, got ${precision}`);
const computeDtype = precision === 'bf16' ? 'bfloat16' : null;
const V = arg('vocab'), C = arg('dim'), L = arg('layers'), H = arg('heads'), K = arg('kv-heads'), F = arg('ffn'), S = arg('seq'), B = arg('batch');

const config = makeConfig({ vocabSize: V, hiddenSize: C, intermediateSize: F, numHiddenLayers: L, numAttentionHeads: H, numKeyValueHeads: K,
  maxPositionEmbeddings: Math.max(2048, S), rmsNormEps: 1e-6, ropeTheta: 10000, tieWordEmbeddings: false });
const model = new StellarForCausalLM(config, { seed: 0 });
// the same token stream as llama_torch.py (a fixed LCG), so both sides see identical inputs
const ids = T.Tensor.fromArray(Array.from({ length: B * S }, (_, i) => (i * 7919 + 13) % V), [B, S], { dtype: 'int32' });   // (B, T)
const params = model.parameters().map((p) => p.data);
let adam = null;   // AdamW moments, created on the first `adamw` step

/** One training step; returns the loss. With `withAdamw` also one AdamW update (moments allocated once). */
function step(withAdamw, t) {
  return T.tidy(() => {
    const { loss } = T.autocast(computeDtype, () => model.forward(ids, { labels: ids }));
    loss.backward();
    const value = loss.item();
    if (withAdamw) {
      if (!adam) adam = { m: params.map((p) => T.keep(T.zerosLike(p))), v: params.map((p) => T.keep(T.zerosLike(p))) };
      T.adamwStep(params, params.map((p) => p.grad), adam.m, adam.v, { lr: 1e-4, beta1: 0.9, beta2: 0.95, weightDecay: 0.1, step: t });
    }
    model.zeroGrad();
    return value;
  });
}

const rssBuild = rssBytes('VmRSS');
const liveBuild = T.memStats().liveBytes;
resetPeakRss();
reply({ ok: true, params: model.numParameters(), threads: T.numThreads(), rss_after_build: rssBuild, precision });

let adamSteps = 0;
for await (const line of readline.createInterface({ input: process.stdin })) {
  const cmd = line.trim().split(/\s+/);
  if (!cmd[0]) continue;
  try {
    if (cmd[0] === 'quit') break;
    if (cmd[0] === 'step' || cmd[0] === 'adamw') {
      const withAdamw = cmd[0] === 'adamw';
      const ms = [], losses = [];
      for (let i = 0; i < Number(cmd[1]); i++) {
        const t0 = performance.now();
        losses.push(step(withAdamw, withAdamw ? ++adamSteps : 0));
        ms.push(performance.now() - t0);
      }
      reply({ ok: true, ms, loss: losses[0] ?? null });
    } else if (cmd[0] === 'mem') {
      const m = T.memStats();
      reply({ ok: true, rss_after_build: rssBuild, peak_rss: rssBytes('VmHWM'), live_after_build: liveBuild, alloc_peak: m.peakBytes, alloc_cached: m.cachedBytes });
    } else reply({ ok: false, error: `unknown command ${cmd[0]}` });
  } catch (e) {
    reply({ ok: false, error: String(e?.stack ?? e) });
  }
}
process.exit(0);
