// Benchmark: StellarForCausalLM training steps (forward with labels + backward + zeroGrad) against
// transformers' LlamaForCausalLM (PyTorch eager fp32, sdpa attention) on the issue's small and base
// configs: tokens/s and peak memory, ours and the peer alternating in one run, each in its own process.
// Usage (after `npx tsup` here and in packages/tensor): node bench/model.bench.mjs   Writes <repo>/.bench/model.md.
// STELLAR_BENCH_ROUNDS (default 7) sets the alternating rounds; STELLAR_BENCH_CONFIGS=small keeps one config.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stats, fmt, table, writeSection, sleep, repoRoot } from '../../tensor/bench/bench-util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CONFIGS = [
  { name: 'small', vocab: 8192, dim: 256, layers: 8, heads: 8, kvHeads: 4, ffn: 688, seq: 256, batch: 16 },
  { name: 'base', vocab: 8192, dim: 512, layers: 8, heads: 8, kvHeads: 4, ffn: 1376, seq: 512, batch: 8 },
].filter((c) => !process.env.STELLAR_BENCH_CONFIGS || process.env.STELLAR_BENCH_CONFIGS.split(',').includes(c.name));
const ROUNDS = Number(process.env.STELLAR_BENCH_ROUNDS ?? 7);          // alternating rounds, one timed step per contender each
const ADAMW_ROUNDS = Number(process.env.STELLAR_BENCH_ADAMW_ROUNDS ?? 5);
const WARMUP = 2;                                                        // untimed steps per contender and setting
const TARGET_SPEED = 1.5;
const MiB = 2 ** 20;

// ---- workers: our model-step.mjs and the peer's llama_torch.py speak the same line protocol ---------
class Worker {
  constructor(label, cmd, args, env) {
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
  async close() { try { this.proc.stdin.end('quit\n'); } catch { /* already gone */ } await this.exited; }
}

const cfgArgs = (c) => ['--vocab', c.vocab, '--dim', c.dim, '--layers', c.layers, '--heads', c.heads, '--kv-heads', c.kvHeads,
  '--ffn', c.ffn, '--seq', c.seq, '--batch', c.batch].map(String);

const hasPeerDeps = (py) => spawnSync(py, ['-c', 'import torch, transformers'], { stdio: 'ignore' }).status === 0;

/** A Python with torch and transformers: $STELLAR_PYTHON, else <repo>/.venv-ref (created or completed with pip). */
function findPython(root) {
  if (process.env.STELLAR_PYTHON) return { python: process.env.STELLAR_PYTHON };
  const py = path.join(root, '.venv-ref', 'bin', 'python');
  if (fs.existsSync(py) && hasPeerDeps(py)) return { python: py };
  if (!fs.existsSync(py)) {
    console.log('[model] creating .venv-ref for the PyTorch peer (one time)');
    const venv = spawnSync('python3', ['-m', 'venv', path.join(root, '.venv-ref')], { stdio: 'inherit' });
    if (venv.status !== 0) return { error: '`python3 -m venv .venv-ref` failed' };
  }
  console.log('[model] installing torch and transformers into .venv-ref for the PyTorch peer (one time)');
  // the local wheel mirror when this machine has one, else pip's configured (public) index
  const mirror = fs.existsSync('/opt/pypi/simple') ? ['--index-url', 'file:///opt/pypi/simple', '--extra-index-url', 'file:///opt/pypi-more/simple'] : [];
  const pip = spawnSync(py, ['-m', 'pip', 'install', ...mirror, 'torch', 'numpy', 'transformers'], { stdio: 'inherit' });
  if (pip.status !== 0) return { error: '`pip install torch numpy transformers` into .venv-ref failed' };
  return { python: py };
}

async function start(label, cmd, args, env) {
  const w = new Worker(label, cmd, args, env);
  try { return { w, hello: await w.next() }; } catch (e) { await w.close(); return { error: e.message }; }
}

// ---- one config: ours vs torch (1 thread; 2 threads; 2 threads with OMP_WAIT_POLICY=PASSIVE) --------
async function runConfig(c, python) {
  const ours = await start('model-step.mjs', process.execPath, [path.join(here, 'model-step.mjs'), ...cfgArgs(c)], {});
  if (ours.error) throw new Error(ours.error);
  let peerError = python.error ?? null;
  const peers = [];   // { w, hello, wait }
  if (!peerError) {
    const script = path.join(repoRoot(), 'tools', 'bench', 'llama_torch.py');
    for (const env of [{}, { OMP_WAIT_POLICY: 'PASSIVE' }]) {
      const p = await start('llama_torch.py', python.python, [script, ...cfgArgs(c)], env);
      if (p.error) { peerError = p.error; break; }
      peers.push({ ...p, wait: env.OMP_WAIT_POLICY ?? 'default' });
    }
    if (peerError) { for (const p of peers) await p.w.close(); peers.length = 0; }
  }
  if (peerError) console.log(`[model] ${c.name}: PyTorch peer unavailable: ${peerError}`);
  // contenders in the order they alternate; each torch setting is its own contender
  const settings = [{ key: 'ours', w: ours.w, threads: ours.hello.threads, label: 'ours' }];
  for (const p of peers) {
    for (const threads of p.wait === 'default' ? [1, 2] : [2]) settings.push({ key: `torch${threads}${p.wait}`, w: p.w, threads, wait: p.wait, torch: true });
  }
  const setThreads = async (s) => { if (s.torch) await s.w.ask(`threads ${s.threads}`); };
  const loss = {};
  for (const s of settings) { await setThreads(s); loss[s.key] = (await s.w.ask(`step ${WARMUP}`)).loss; }
  // Each contender starts after a pause so the previous one's spinning BLAS / OpenMP workers have parked.
  const ms = Object.fromEntries(settings.map((s) => [s.key, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // every other round runs in reverse order, so a load change during a round hits no contender first every time
    for (const s of r % 2 ? [...settings].reverse() : settings) {
      await setThreads(s);
      await sleep(200);
      ms[s.key].push(...(await s.w.ask('step 1')).ms);
    }
    console.log(`[model] ${c.name} round ${r + 1}/${ROUNDS}: ${settings.map((s) => `${s.key} ${fmt(ms[s.key].at(-1))} ms`).join(', ')}`);
  }
  // memory before any optimizer state exists
  const memOurs = await ours.w.ask('mem');
  const memPeers = [];
  for (const p of peers) memPeers.push({ wait: p.wait, ...(await p.w.ask('mem')) });
  // the peer's fastest setting, by median step time
  const torchKeys = settings.filter((s) => s.torch);
  const best = torchKeys.length ? torchKeys.reduce((a, b) => (stats(ms[a.key]).median <= stats(ms[b.key]).median ? a : b)) : null;
  // optional AdamW row: ours vs the peer's best setting only
  const adamw = { ours: [], torch: [] };
  for (let r = 0; r < ADAMW_ROUNDS; r++) {
    if (r === 0) { await ours.w.ask('adamw 1'); if (best) { await setThreads(best); await best.w.ask('adamw 1'); } }   // warm-up, creates the moments
    await sleep(200);
    adamw.ours.push(...(await ours.w.ask('adamw 1')).ms);
    if (best) { await setThreads(best); await sleep(200); adamw.torch.push(...(await best.w.ask('adamw 1')).ms); }
    console.log(`[model] ${c.name} AdamW round ${r + 1}/${ADAMW_ROUNDS}: ours ${fmt(adamw.ours.at(-1))} ms${best ? `, torch ${fmt(adamw.torch.at(-1))} ms` : ''}`);
  }
  await ours.w.close();
  for (const p of peers) await p.w.close();
  return { c, settings, ms, loss, best, memOurs, memPeers, adamw, peerError, torchVersion: peers[0]?.hello.torch, tfVersion: peers[0]?.hello.transformers, params: ours.hello.params };
}

// ---- profile of our step (model-profile.mjs in a fresh process) ---------------------------------
function profileOurs(name) {
  const r = spawnSync(process.execPath, [path.join(here, 'model-profile.mjs'), name, '3', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) return { config: name, error: `model-profile.mjs ${name} failed (${r.status ?? r.signal})` };
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

/** Model FLOPs of one training step: 6 per weight per token for the projections and lm_head, plus
 *  causal attention's 12·D per visible (query, key) pair per head (forward 4·D, backward 8·D). */
function stepFlops(c) {
  const D = c.dim / c.heads;
  const perLayer = c.dim * c.dim * 2 + 2 * c.dim * c.kvHeads * D + 3 * c.dim * c.ffn;   // q, o; k, v; gate, up, down
  const gemm = 6 * (c.layers * perLayer + c.vocab * c.dim) * c.batch * c.seq;
  const attn = c.layers * c.batch * c.heads * 12 * D * (c.seq * (c.seq + 1)) / 2;
  return gemm + attn;
}

// ---- report --------------------------------------------------------------------------------------
function cfgText(c) {
  return `vocab ${c.vocab}, dim ${c.dim}, ${c.layers} layers, ${c.heads} heads / ${c.kvHeads} KV, FFN ${c.ffn}, seq ${c.seq}, batch ${c.batch}`;
}

function report(results, profiles) {
  const speedRows = [], memRows = [], verdicts = [];
  for (const r of results) {
    const tokens = r.c.batch * r.c.seq;
    const flops = stepFlops(r.c);
    const tps = (msArr) => { const s = stats(msArr); return { med: tokens / (s.median / 1e3), lo: tokens / (s.max / 1e3), hi: tokens / (s.min / 1e3), ms: s.median, n: s.n, gf: fmt(flops / (s.median / 1e3) / 1e9) }; };
    const o = tps(r.ms.ours);
    speedRows.push([r.c.name, `ours (${r.settings[0].threads} threads)`, fmt(o.ms), `${fmt(o.med)}`, `${fmt(o.lo)}–${fmt(o.hi)}`, o.gf, fmt(r.loss.ours, 4), '—']);
    for (const s of r.settings.filter((x) => x.torch)) {
      const t = tps(r.ms[s.key]);
      const mark = s.key === r.best?.key ? ' **best**' : '';
      speedRows.push([r.c.name, `PyTorch ${s.threads} thread${s.threads > 1 ? 's' : ''}, OMP_WAIT_POLICY ${s.wait}${mark}`, fmt(t.ms), fmt(t.med), `${fmt(t.lo)}–${fmt(t.hi)}`, t.gf, fmt(r.loss[s.key], 4), `${fmt(o.med / t.med)}×`]);
    }
    if (!r.best) speedRows.push([r.c.name, 'PyTorch', 'peer unavailable', '—', '—', '—', '—', '—']);
    if (r.adamw.ours.length) {
      const a = tps(r.adamw.ours);
      speedRows.push([r.c.name, 'ours + AdamW update', fmt(a.ms), fmt(a.med), `${fmt(a.lo)}–${fmt(a.hi)}`, a.gf, '—', '—']);
      if (r.adamw.torch.length) {
        const t = tps(r.adamw.torch);
        speedRows.push([r.c.name, `PyTorch + torch.optim.AdamW (${r.best.threads} thread${r.best.threads > 1 ? 's' : ''}, ${r.best.wait})`, fmt(t.ms), fmt(t.med), `${fmt(t.lo)}–${fmt(t.hi)}`, t.gf, '—', `${fmt(a.med / t.med)}×`]);
      }
    }
    // memory: peak RSS while stepping minus RSS right after the model was built (both sides the same way)
    const mo = r.memOurs;
    const ourDelta = mo.peak_rss - mo.rss_after_build;
    memRows.push([r.c.name, 'ours', fmt(ourDelta / MiB), fmt(mo.rss_after_build / MiB), fmt(mo.peak_rss / MiB), `${fmt((mo.alloc_peak - mo.live_after_build) / MiB)} (peak ${fmt(mo.alloc_peak / MiB)})`, '—']);
    let peerDelta = null;
    if (r.memPeers.length) {
      const bestMem = r.memPeers.reduce((a, b) => (a.peak_rss - a.rss_after_build <= b.peak_rss - b.rss_after_build ? a : b));
      peerDelta = bestMem.peak_rss - bestMem.rss_after_build;
      memRows.push([r.c.name, `PyTorch (process with OMP_WAIT_POLICY ${bestMem.wait})`, fmt(peerDelta / MiB), fmt(bestMem.rss_after_build / MiB), fmt(bestMem.peak_rss / MiB), 'no CPU peak counter', `${fmt(ourDelta / peerDelta)}×`]);
    } else memRows.push([r.c.name, 'PyTorch', 'peer unavailable', '—', '—', '—', '—']);
    if (r.best) {
      const ratio = o.med / tps(r.ms[r.best.key]).med;
      const memRatio = ourDelta / peerDelta;
      verdicts.push(`${r.c.name}: ${fmt(ratio)}× PyTorch's best tokens/s (target ≥ ${TARGET_SPEED}×: ${ratio >= TARGET_SPEED ? 'met' : 'missed'}), peak step memory ${fmt(memRatio)}× PyTorch's (target ≤ 1×: ${memRatio <= 1 ? 'met' : 'missed'})`);
    } else verdicts.push(`${r.c.name}: PyTorch peer unavailable (${r.peerError})`);
  }
  const r0 = results[0];
  const peerName = r0.torchVersion ? `PyTorch ${r0.torchVersion}, transformers ${r0.tfVersion}` : 'PyTorch';
  const md = `## Model: StellarForCausalLM training step vs PyTorch LlamaForCausalLM

Command: \`cd packages/nn && node bench/model.bench.mjs\` (part of \`pnpm bench\`; STELLAR_BENCH_ROUNDS=${ROUNDS})

Configs (the issue's): ${results.map((r) => `**${r.c.name}** — ${cfgText(r.c)} (${fmt(r.params / 1e6)} M parameters)`).join('; ')}. One step = \`model.forward(ids, {labels})\` + \`loss.backward()\` + \`loss.item()\` + \`model.zeroGrad()\` (peer: \`model(input_ids, labels=...)\`, \`backward()\`, \`item()\`, \`zero_grad(set_to_none=True)\`); **no optimizer step** except in the AdamW rows, where both sides add one AdamW update (ours \`adamwStep\`, the peer \`torch.optim.AdamW\`). Peer: ${peerName} \`LlamaForCausalLM\`, fp32, eager, \`attn_implementation="sdpa"\`, untied lm_head like ours. Every contender is its own long-lived process (ours; the peer with 1 thread and 2 threads in one process, and 2 threads with \`OMP_WAIT_POLICY=PASSIVE\` in another); after ${WARMUP} untimed steps each, they alternate one timed step each for ${ROUNDS} rounds (every other round in reverse order), 200 ms apart. tokens/s = B·T / step time (median; spread = slowest–fastest step). Model GFLOP/s = model FLOPs per step (6 per projection / lm_head weight per token, plus 12·D per visible query–key pair per head for causal attention, no recomputation counted: ${results.map((r) => `${r.c.name} ${fmt(stepFlops(r.c) / 1e9)} GFLOP`).join(', ')}) / median step time. The ratio column is ours / that PyTorch setting; the verdict uses PyTorch's fastest setting. Step loss = loss of the first warm-up step (ln ${r0.c.vocab} = ${fmt(Math.log(r0.c.vocab), 4)}: both models start near uniform; weights differ, inputs are the same token stream).

${table(['config', 'contender', 'ms/step (median)', 'tokens/s (median)', 'tokens/s spread', 'model GFLOP/s', 'step loss', 'ours vs this'], speedRows)}

Peak memory of a step, measured the same way on both sides: the process's peak RSS (VmHWM, reset through \`/proc/self/clear_refs\` right after the model and inputs were built) minus its RSS at that moment, read after all plain steps and before any optimizer state exists. For ours the allocator's own high-water mark above the live bytes after the build is given too (\`memStats()\`; it does not count OpenBLAS or V8 memory). PyTorch has no CPU peak counter, so RSS only; the lower of its two processes is reported.

${table(['config', 'contender', 'step peak − build RSS (MiB)', 'RSS after build (MiB)', 'peak RSS (MiB)', 'allocator peak − build (MiB)', 'ours / peer'], memRows)}

${verdicts.map((v) => `- ${v}`).join('\n')}

${profileSection(profiles)}

${note(results, profiles)}
`;
  writeSection('model', md);
}

/** Our step's time by kernel category (forward / backward) from model-profile.mjs, one table per config. */
function profileSection(profiles) {
  const parts = [];
  for (const p of profiles) {
    if (p.error) { parts.push(`Profile (${p.config}): ${p.error}.`); continue; }
    const cats = new Map();
    for (const r of p.rows) {
      const c = cats.get(r.what) ?? { fwd: 0, bwd: 0, share: 0 };
      c[r.pass === 'forward' ? 'fwd' : 'bwd'] += r.msPerStep;
      c.share += r.share;
      cats.set(r.what, c);
    }
    const rows = [...cats].sort((x, y) => y[1].share - x[1].share).filter(([, c]) => c.share >= 0.002)
      .map(([what, c]) => [what, fmt(c.fwd), fmt(c.bwd), `${(100 * c.share).toFixed(1)} %`]);
    parts.push(`Where our step's time goes (**${p.config}**, \`node bench/model-profile.mjs ${p.config} 3\`: V8's sampling profiler over ${p.steps} steps at ${fmt(p.wallMsPerStep)} ms per step, each sample charged to the native kernel being run, or to JavaScript):\n\n${table(['kernel', 'forward ms/step', 'backward ms/step', 'share'], rows)}`);
  }
  return parts.join('\n\n');
}

const gemmShare = (p) => (p.error ? null : p.rows.filter((r) => r.what.startsWith('GEMM')).reduce((a, r) => a + r.share, 0));

/** The paragraph on what limits the result; the shares and floors come from this run. */
function note(results, profiles) {
  const shares = profiles.map((p) => (gemmShare(p) == null ? null : `${(100 * gemmShare(p)).toFixed(0)} % (${p.config})`)).filter(Boolean).join(', ');
  // 2 cores at ~95 GFLOP/s (fp32 sgemm on this CPU when quiet, see the matmul section)
  const floors = results.map((r) => `${fmt(stepFlops(r.c) / 190e9 * 1e3)} ms (${r.c.name})`).join(', ');
  return `What limits us: fp32 GEMM throughput. The projection, MLP and lm_head GEMMs take ${shares || 'most'} of our step. They run as single-threaded OpenBLAS calls on pieces of the output's rows (or columns) that the threads of our pool take in turn (\`csrc/cpu/sgemm_pool.cc\`; taking them on demand lets one thread do more when another job holds part of the other core); at the ~95 GFLOP/s per core that sgemm reaches here on a quiet machine, the model FLOPs alone need ${floors} per step on 2 cores, so the rest of the step (fused attention, SwiGLU, RMSNorm, RoPE, cross-entropy, copies, autograd in JavaScript) is all that is left to win without lower precision; bf16 GEMMs would double the ceiling but change the numerics the fp32 peer is compared on. Before this round OpenBLAS ran its own threads, and after every GEMM one of them spun for ~0.1 s, taking a core from the kernels between GEMMs (measured: ~23 % more CPU time per step on the small config); the pool split removed that. Also in this round: elementwise / copy / fill kernels on contiguous tensors split their single coalesced row across threads (they ran on one), the gradient of a weight used as \`x @ W^T\` is computed in W's own layout and taken over as \`.grad\` without a copy, a same-dtype copy passes its gradient through, and a slice's gradient zeroes only what lies outside the slice. Left in the model code (\`packages/nn/src/model\`, not changed here): the loss slices the (B, T, V) logits, which copies B·(T−1)·V floats and makes backward build a full-size gradient; shifting the labels (last position -100) instead would avoid both and the copy's memory. q/k/v and gate/up are separate, narrower GEMMs (fused weights would run closer to peak and halve the kernel calls), and the attention output is transposed and copied before o_proj. This host is shared: other jobs take part of the second core at random moments, which moves every 2-thread figure (ours and PyTorch's), so only ratios within one run mean anything. Memory: our peak is the logits (and their copy for the loss), the activations saved for backward and the gradients, served by the caching allocator, whose freed blocks stay in RSS for reuse.`;
}

async function main() {
  // the measurements are kept next to the section, so `--report-only` can re-render it without re-running
  const raw = path.join(repoRoot(), '.bench', 'model.raw.json');
  if (process.argv.includes('--report-only')) {
    const { results, profiles } = JSON.parse(fs.readFileSync(raw, 'utf8'));
    report(results, profiles);
    return;
  }
  const python = findPython(repoRoot());
  const results = [];
  for (const c of CONFIGS) results.push(await runConfig(c, python));
  const profiles = CONFIGS.map((c) => { console.log(`[model] profiling our ${c.name} step`); return profileOurs(c.name); });
  fs.mkdirSync(path.dirname(raw), { recursive: true });
  fs.writeFileSync(raw, JSON.stringify({ results: results.map((r) => ({ ...r, settings: r.settings.map(({ w, ...st }) => st), best: r.best && (({ w, ...st }) => st)(r.best) })), profiles }));
  report(results, profiles);
}

await main();
