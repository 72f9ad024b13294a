// Benchmark: serving speed on the small config (vocab 8192, dim 256, 8 layers, 8 heads / 4 KV, FFN 688),
// random-init weights exported as an HF directory: prefill tokens/s (one 256-token prompt), batch-1
// decode tokens/s and aggregate decode tokens/s of 8 concurrent streams, ours (Engine in-thread, fp32
// and INT8) against PyTorch + transformers generate() on the same directory (fp32, 1 and 2 threads;
// torch.ao dynamic int8 when it runs), greedy with EOS ignored, every contender alternating in one run.
// Usage (after `npx tsup` in native/tensor/nn/tokenizer/serve): node bench/serve.bench.mjs  Writes <repo>/.bench/serve.md.
// STELLAR_BENCH_ROUNDS (default 7) alternating rounds; STELLAR_BENCH_NEW_TOKENS (default 64) tokens per request.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { StellarForCausalLM, makeConfig, savePretrained } from '@stellar/nn';
import { stats, fmt, table, writeSection, sleep, repoRoot } from '../../tensor/bench/bench-util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.STELLAR_BENCH_ROUNDS ?? 7);
const NEW = Number(process.env.STELLAR_BENCH_NEW_TOKENS ?? 64);
const PROMPT = 256;
const STREAMS = 8;
const TARGETS = { vsTransformers: 3, streams: 4, int8: 1.5 };
const SMALL = { vocabSize: 8192, hiddenSize: 256, numHiddenLayers: 8, numAttentionHeads: 8, numKeyValueHeads: 4, intermediateSize: 688 };

class Worker {
  constructor(label, cmd, args, env = {}) {
    this.label = label;
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    this.proc.on('error', () => {});
    this.exited = new Promise((r) => this.proc.on('exit', r));
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async next() {
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`${this.label} exited`);
    const r = JSON.parse(value);
    if (!r.ok) throw new Error(`${this.label}: ${r.error}`);
    return r;
  }
  async ask(cmd) { this.proc.stdin.write(cmd + '\n'); return this.next(); }
  async close() { try { this.proc.stdin.end('quit\n'); } catch { /* gone */ } await this.exited; }
}

async function start(label, cmd, args, env) {
  const w = new Worker(label, cmd, args, env);
  try { return { w, hello: await w.next() }; } catch (e) { await w.close(); return { error: e.message }; }
}

const hasPeerDeps = (py) => spawnSync(py, ['-c', 'import torch, transformers'], { stdio: 'ignore' }).status === 0;

/** A Python with torch and transformers: $STELLAR_PYTHON, else <repo>/.venv-ref (created or completed with pip). */
function findPython(root) {
  if (process.env.STELLAR_PYTHON) return { python: process.env.STELLAR_PYTHON };
  const py = path.join(root, '.venv-ref', 'bin', 'python');
  if (fs.existsSync(py) && hasPeerDeps(py)) return { python: py };
  if (!fs.existsSync(py)) {
    console.log('[serve] creating .venv-ref for the PyTorch peer (one time)');
    if (spawnSync('python3', ['-m', 'venv', path.join(root, '.venv-ref')], { stdio: 'inherit' }).status !== 0) return { error: '`python3 -m venv .venv-ref` failed' };
  }
  console.log('[serve] installing torch and transformers into .venv-ref for the PyTorch peer (one time)');
  const mirror = fs.existsSync('/opt/pypi/simple') ? ['--index-url', 'file:///opt/pypi/simple', '--extra-index-url', 'file:///opt/pypi-more/simple'] : [];
  const pip = spawnSync(py, ['-m', 'pip', 'install', ...mirror, 'torch', 'numpy', 'transformers', 'safetensors'], { stdio: 'inherit' });
  if (pip.status !== 0) return { error: '`pip install torch numpy transformers` into .venv-ref failed' };
  return { python: py };
}

/** The small config with random weights (speed does not depend on them) as an HF directory. */
function exportModel() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-serve-bench-'));
  const model = new StellarForCausalLM(makeConfig({ ...SMALL, maxPositionEmbeddings: 2048, tieWordEmbeddings: false }), { seed: 0 });
  savePretrained(model, dir);
  model.dispose();
  return dir;
}

const METRICS = [
  ['prefill', `prefill ${PROMPT}`, `prefill tokens/s (prompt ${PROMPT})`],
  ['decode1', `decode 1 ${NEW}`, 'batch-1 decode tokens/s'],
  ['decode8', `decode ${STREAMS} ${NEW}`, `${STREAMS}-stream aggregate decode tokens/s`],
];

async function main() {
  const root = repoRoot();
  const dir = exportModel();
  const settings = [];   // { key, label, w, threads? }
  const procs = [];
  try {
    for (const q of [null, 'int8']) {
      const o = await start(`serve-step ${q ?? 'fp32'}`, process.execPath, [path.join(here, 'serve-step.mjs'), '--model', dir, ...(q ? ['--quantize', q] : [])]);
      if (o.error) throw new Error(o.error);
      procs.push(o.w);
      settings.push({ key: `ours-${q ?? 'fp32'}`, label: `ours ${q ? 'INT8' : 'fp32'} (${o.hello.threads} threads)`, w: o.w });
    }
    const py = findPython(root);
    let peerError = py.error ?? null;
    let versions = '';
    if (!peerError) {
      const script = path.join(root, 'tools', 'bench', 'hf_generate.py');
      for (const mode of ['fp32', 'dynamic-int8']) {
        const o = await start(`hf_generate ${mode}`, py.python, [script, '--model', dir, '--mode', mode]);
        if (o.error) {
          if (mode === 'fp32') { peerError = o.error; break; }
          console.log(`[serve] transformers ${mode} unavailable: ${o.error}`);
          continue;
        }
        procs.push(o.w);
        versions = `torch ${o.hello.torch}, transformers ${o.hello.transformers}`;
        for (const t of [1, 2]) settings.push({ key: `hf-${mode}-${t}`, group: `hf-${mode}`, label: `transformers generate() ${mode} (${t} thread${t > 1 ? 's' : ''})`, w: o.w, threads: t });
      }
    }
    if (peerError) console.log(`[serve] PyTorch peer unavailable: ${peerError}`);

    const results = Object.fromEntries(settings.map((s) => [s.key, { prefill: [], decode1: [], decode8: [] }]));
    const failed = new Set();
    const measure = async (s, record) => {
      if (s.threads) await s.w.ask(`threads ${s.threads}`);
      for (const [m, cmd] of METRICS) {
        const r = await s.w.ask(cmd);
        if (record) results[s.key][m].push(r.tokens / r.seconds);
      }
    };
    for (const s of settings) {   // warm-up (and the check that each contender runs at all)
      try { await measure(s, false); } catch (e) {
        if (s.key.startsWith('ours')) throw e;
        console.log(`[serve] ${s.label} failed: ${String(e.message).split('\n')[0].slice(0, 300)}`);
        failed.add(s.key);
      }
    }
    const live = settings.filter((s) => !failed.has(s.key));
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of r % 2 ? [...live].reverse() : live) {
        await sleep(100);   // lets the previous contender's spinning BLAS / OpenMP workers park
        await measure(s, true);
      }
      console.log(`[serve] round ${r + 1}/${ROUNDS} done`);
    }
    for (const w of procs.splice(0)) await w.close();   // the perplexity run gets the machine to itself
    writeReport(live, results, peerError, versions, perplexityRow());
  } finally {
    for (const w of procs) await w.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** fp32 vs INT8 perplexity on held-out text (serve-ppl.mjs); null with the reason printed when it fails. */
function perplexityRow() {
  console.log('[serve] perplexity: fp32 vs INT8 on held-out text (trains a tiny model first when runs/ has no final/)');
  const r = spawnSync(process.execPath, [path.join(here, 'serve-ppl.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  try { return JSON.parse(r.stdout.trim().split('\n').pop()); } catch { console.log(`[serve] perplexity run failed (${r.status})`); return null; }
}

function writeReport(live, results, peerError, versions, ppl) {
  const med = (key, m) => (results[key] && results[key][m].length ? stats(results[key][m]).median : null);
  const cell = (key, m) => {
    const v = results[key]?.[m];
    if (!v || !v.length) return '—';
    const s = stats(v);
    return `${fmt(s.median, 4)} (${fmt(s.min, 4)}–${fmt(s.max, 4)})`;
  };
  const rows = live.map((s) => [s.label, ...METRICS.map(([m]) => cell(s.key, m))]);
  if (peerError) rows.push(['transformers generate() fp32', 'peer unavailable', 'peer unavailable', 'peer unavailable']);
  // the peer's best thread setting per metric, as its fair figure
  const bestHf = (m) => {
    const vals = live.filter((s) => s.key.startsWith('hf-fp32')).map((s) => med(s.key, m)).filter((v) => v !== null);
    return vals.length ? Math.max(...vals) : null;
  };
  const ratio = (a, b) => (a !== null && b !== null ? `${fmt(a / b, 3)}×` : 'n/a');
  const ratioRows = [
    ['batch-1 decode: ours fp32 / transformers fp32 (best threads)', ratio(med('ours-fp32', 'decode1'), bestHf('decode1')), `≥ ${TARGETS.vsTransformers}×`],
    ['batch-1 decode: ours INT8 / transformers fp32 (best threads)', ratio(med('ours-int8', 'decode1'), bestHf('decode1')), '—'],
    ['prefill: ours fp32 / transformers fp32 (best threads)', ratio(med('ours-fp32', 'prefill'), bestHf('prefill')), '—'],
    [`${STREAMS} streams / 1 stream, ours fp32`, ratio(med('ours-fp32', 'decode8'), med('ours-fp32', 'decode1')), `≥ ${TARGETS.streams}×`],
    [`${STREAMS} streams / 1 stream, ours INT8`, ratio(med('ours-int8', 'decode8'), med('ours-int8', 'decode1')), `≥ ${TARGETS.streams}×`],
    ['batch-1 decode: ours INT8 / ours fp32', ratio(med('ours-int8', 'decode1'), med('ours-fp32', 'decode1')), `≥ ${TARGETS.int8}×`],
    [`${STREAMS}-stream decode: ours INT8 / ours fp32`, ratio(med('ours-int8', 'decode8'), med('ours-fp32', 'decode8')), '—'],
  ];
  const md = `## Serving: prefill and decode tokens/s (small config)

Command: \`cd packages/serve && node bench/serve.bench.mjs\` (STELLAR_BENCH_ROUNDS=${ROUNDS}, STELLAR_BENCH_NEW_TOKENS=${NEW}).
Small config (vocab 8192, dim 256, 8 layers, 8 heads / 4 KV, FFN 688, untied head), random-init weights saved as an HF
directory that both sides load. Greedy, EOS ignored (ours: no EOS ids; transformers: \`min_new_tokens = max_new_tokens\`),
so every run makes the same number of tokens. Decode prompts are 32 tokens; decode tokens/s counts the steps after the
prefill (transformers: \`generate(${NEW})\` minus \`generate(1)\` on the same prompts). ${versions ? `Peer: ${versions}.` : ''}
Median of ${ROUNDS} alternating rounds (min–max in brackets), tokens/s.

${table(['contender', ...METRICS.map(([, , h]) => h)], rows)}

${table(['ratio', 'measured (medians)', 'target'], ratioRows)}

${ppl ? `Perplexity on held-out text (Moby-Dick chapters 121-135 + epilogue, ${ppl.tokens} predicted tokens in 256-token windows) of
${ppl.source}: fp32 ${fmt(ppl.fp32, 5)}, INT8 ${fmt(ppl.int8, 5)}, a relative change of ${((ppl.int8 / ppl.fp32 - 1) * 100).toFixed(3)}%.` : 'Perplexity row: the run failed (see the log).'}

llama.cpp at the same precision belongs to the interop issue (GGUF export); it has no row here yet.

What limits the result: batch-1 fp32 decode streams ~31 MB of weights per token (8 layers ~23 MB + the 8 MB head),
far more than the 1 MB L2 per core, so its GEMMs run at memory bandwidth (~10 GB/s seen in-engine on this shared
host); INT8 reads a quarter of those bytes (int8 rows widened to fp32 in registers), which is where its speed-up
comes from. With 8 streams each weight row is read once for all 8 rows (the small-M kernel), so the aggregate grows
until the GEMMs turn compute-bound. When this bench was written, a per-kernel split of one batch-1 fp32 decode step
gave ~60% GEMMs and ~20% attention (about 0.1 ms per layer for a few dozen cached keys: a fixed cost of the
attention kernel's decode path, the next thing to cut); norms, RoPE, SwiGLU and the JS layers were a few percent.
The host has 2 cores shared with other jobs: the spread shows how much the second core was available.
`;
  writeSection('serve', md);
}

await main();
