// Benchmark: StellarForCausalLM training steps (forward with labels + backward + zeroGrad) against
// transformers' LlamaForCausalLM (sdpa attention) on the issue's small and base configs, fp32 and bf16
// mixed precision (ours: autocast; PyTorch: eager fp32, eager bf16 autocast, torch.compile bf16):
// tokens/s, MFU against the measured FMA peak and peak memory, every contender alternating in one run,
// each in its own process.
// Usage (after `npx tsup` here and in packages/tensor): node bench/model.bench.mjs   Writes <repo>/.bench/model.md.
// STELLAR_BENCH_ROUNDS (default 7) sets the alternating rounds; STELLAR_BENCH_CONFIGS=small keeps one config;
// STELLAR_BENCH_NO_COMPILE=1 skips the torch.compile peer (its compilation takes minutes on 2 cores).
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
const TARGET_SPEED = 1.5;             // ours fp32 / PyTorch eager fp32
const TARGET_MFU = 0.6;               // ours fp32 / measured 2-thread fp32 FMA peak
const TARGET_BF16_AUTOCAST = 1.3;     // ours bf16 / PyTorch eager bf16 autocast
const TARGET_BF16_COMPILE = 1.0;      // ours bf16 / PyTorch torch.compile bf16
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

// ---- one config: every contender in its own long-lived process ------------------------------------
// ours fp32 and ours bf16 (autocast); PyTorch eager fp32 and eager bf16 autocast, each in a process with
// the default OMP wait policy (stepped at 1 and 2 threads) and one with OMP_WAIT_POLICY=PASSIVE (2
// threads); PyTorch torch.compile bf16 in two processes whose thread count is fixed before compiling.
const GROUPS = {
  'ours-fp32': 'ours fp32', 'ours-bf16': 'ours bf16 (autocast)',
  'torch-fp32': 'PyTorch eager fp32', 'torch-autocast': 'PyTorch eager bf16 autocast', 'torch-compile': 'PyTorch torch.compile bf16 autocast',
};
const PEER_MODES = [['torch-fp32', 'eager'], ['torch-autocast', 'autocast'], ['torch-compile', 'compile']];

async function runConfig(c, python) {
  const procs = [];   // { group, w, hello, wait, fixedThreads }
  const failed = {};  // group -> reason
  for (const precision of ['fp32', 'bf16']) {
    const o = await start(`model-step.mjs ${precision}`, process.execPath, [path.join(here, 'model-step.mjs'), ...cfgArgs(c), '--precision', precision], {});
    if (o.error) throw new Error(o.error);
    procs.push({ group: `ours-${precision}`, ...o });
  }
  let peerError = python.error ?? null;
  if (!peerError) {
    const script = path.join(repoRoot(), 'tools', 'bench', 'llama_torch.py');
    for (const [group, mode] of PEER_MODES) {
      if (mode === 'compile' && process.env.STELLAR_BENCH_NO_COMPILE) { failed[group] = 'skipped (STELLAR_BENCH_NO_COMPILE is set)'; continue; }
      const variants = mode === 'compile' ? [{ env: {}, threads: 1 }, { env: {}, threads: 2 }] : [{ env: {} }, { env: { OMP_WAIT_POLICY: 'PASSIVE' } }];
      for (const v of variants) {
        const p = await start(`llama_torch.py --mode ${mode}`, python.python, [script, ...cfgArgs(c), '--mode', mode, ...(v.threads ? ['--threads', String(v.threads)] : [])], v.env);
        if (p.error) { failed[group] = p.error; break; }
        procs.push({ group, ...p, wait: v.env.OMP_WAIT_POLICY ?? 'default', fixedThreads: v.threads ?? null });
      }
      if (group === 'torch-fp32' && failed[group]) { peerError = failed[group]; break; }
    }
  }
  if (peerError) console.log(`[model] ${c.name}: PyTorch peer unavailable: ${peerError}`);
  // contenders in the order they alternate; each torch thread setting is its own contender
  let settings = [];
  for (const p of procs) {
    if (failed[p.group] || (peerError && p.group.startsWith('torch'))) continue;
    if (p.group.startsWith('ours')) { settings.push({ key: p.group, group: p.group, p, threads: p.hello.threads }); continue; }
    const threadList = p.fixedThreads ? [p.fixedThreads] : p.wait === 'default' ? [1, 2] : [2];
    for (const threads of threadList) settings.push({ key: `${p.group}-${threads}-${p.wait}`, group: p.group, p, threads, wait: p.wait, torch: true });
  }
  const setThreads = async (s) => { if (s.torch && !s.p.fixedThreads) await s.p.w.ask(`threads ${s.threads}`); };
  const loss = {};
  for (const s of settings) {
    if (failed[s.group]) continue;
    if (s.group === 'torch-compile') console.log(`[model] ${c.name}: torch.compile peer (${s.threads} thread${s.threads > 1 ? 's' : ''}) compiles on its first warm-up step; this can take minutes`);
    try {
      await setThreads(s);
      loss[s.key] = (await s.p.w.ask(`step ${WARMUP}`)).loss;
    } catch (e) {
      if (!s.torch) throw e;
      failed[s.group] = String(e.message).split('\n')[0].slice(0, 300);
      console.log(`[model] ${c.name}: ${GROUPS[s.group]} failed: ${failed[s.group]}`);
    }
  }
  settings = settings.filter((s) => !failed[s.group]);
  // Each contender starts after a pause so the previous one's spinning BLAS / OpenMP workers have parked.
  const ms = Object.fromEntries(settings.map((s) => [s.key, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // every other round runs in reverse order, so a load change during a round hits no contender first every time
    for (const s of r % 2 ? [...settings].reverse() : settings) {
      await setThreads(s);
      await sleep(200);
      ms[s.key].push(...(await s.p.w.ask('step 1')).ms);
    }
    console.log(`[model] ${c.name} round ${r + 1}/${ROUNDS}: ${settings.map((s) => `${s.key} ${fmt(ms[s.key].at(-1))} ms`).join(', ')}`);
  }
  // memory before any optimizer state exists, per process
  const mem = [];
  for (const p of procs) {
    if (failed[p.group] || (peerError && p.group.startsWith('torch'))) continue;
    mem.push({ group: p.group, wait: p.wait, threads: p.fixedThreads, ...(await p.w.ask('mem')) });
  }
  // each group's fastest setting, by median step time
  const best = {};
  for (const s of settings) if (!best[s.group] || stats(ms[s.key]).median < stats(ms[best[s.group].key]).median) best[s.group] = s;
  // optional AdamW row: ours fp32 vs the fp32 peer's best setting only
  const adamw = { ours: [], torch: [] };
  const ours = best['ours-fp32'], tb = best['torch-fp32'];
  for (let r = 0; r < ADAMW_ROUNDS; r++) {
    if (r === 0) { await ours.p.w.ask('adamw 1'); if (tb) { await setThreads(tb); await tb.p.w.ask('adamw 1'); } }   // warm-up, creates the moments
    await sleep(200);
    adamw.ours.push(...(await ours.p.w.ask('adamw 1')).ms);
    if (tb) { await setThreads(tb); await sleep(200); adamw.torch.push(...(await tb.p.w.ask('adamw 1')).ms); }
    console.log(`[model] ${c.name} AdamW round ${r + 1}/${ADAMW_ROUNDS}: ours ${fmt(adamw.ours.at(-1))} ms${tb ? `, torch ${fmt(adamw.torch.at(-1))} ms` : ''}`);
  }
  for (const p of procs) await p.w.close();
  const peer = procs.find((p) => p.group.startsWith('torch'));
  const plain = (s) => s && (({ p, ...st }) => st)(s);
  return { c, settings: settings.map(plain), ms, loss, best: Object.fromEntries(Object.entries(best).map(([g, s]) => [g, plain(s)])), mem, adamw, peerError, failed,
    torchVersion: peer?.hello.torch, tfVersion: peer?.hello.transformers, params: procs[0].hello.params };
}

// ---- the machine's measured FMA peak (tools/bench/fma_peak.c, built once into .bench/) ---------------
function fmaPeak() {
  const src = path.join(repoRoot(), 'tools', 'bench', 'fma_peak.c');
  const bin = path.join(repoRoot(), '.bench', 'fma_peak');
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  if (!fs.existsSync(bin) || fs.statSync(bin).mtimeMs < fs.statSync(src).mtimeMs) {
    const cc = spawnSync('gcc', ['-O2', '-march=native', '-pthread', src, '-o', bin], { encoding: 'utf8' });
    if (cc.status !== 0) return { error: `gcc -O2 -march=native fma_peak.c failed: ${(cc.stderr || cc.error?.message || '').trim().split('\n')[0]}` };
  }
  const r = spawnSync(bin, [], { encoding: 'utf8' });
  if (r.status !== 0) return { error: `fma_peak exited with ${r.status ?? r.signal}` };
  const peak = JSON.parse(r.stdout.trim().split('\n').at(-1));
  console.log(`[model] FMA peak measurement (tools/bench/fma_peak.c): ${JSON.stringify(peak)}`);
  return peak;
}

// ---- profile of our step (model-profile.mjs in a fresh process) ---------------------------------
function profileOurs(name, precision) {
  const r = spawnSync(process.execPath, [path.join(here, 'model-profile.mjs'), name, '3', '--json', '--precision', precision], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) return { config: name, precision, error: `model-profile.mjs ${name} --precision ${precision} failed (${r.status ?? r.signal})` };
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

const pct = (x) => `${(100 * x).toFixed(0)} %`;
const threadText = (n) => `${n} thread${n > 1 ? 's' : ''}`;

function report(results, profiles, peak) {
  const speedRows = [], memRows = [], verdicts = [];
  const peakFp32 = peak?.fp32_2t ?? null, peakBf16 = peak?.bf16_2t ?? null;
  for (const r of results) {
    const tokens = r.c.batch * r.c.seq;
    const flops = stepFlops(r.c);
    const tps = (msArr) => { const s = stats(msArr); return { med: tokens / (s.median / 1e3), lo: tokens / (s.max / 1e3), hi: tokens / (s.min / 1e3), ms: s.median, n: s.n, gflops: flops / (s.median / 1e3) / 1e9 }; };
    const isBf16 = (g) => g !== 'ours-fp32' && g !== 'torch-fp32';
    const mfu = (g, t) => { const pk = isBf16(g) ? peakBf16 : peakFp32; return pk ? pct(t.gflops / pk) : '—'; };
    const ourOf = (g) => (isBf16(g) ? r.best['ours-bf16'] : r.best['ours-fp32']);
    for (const s of r.settings) {
      const t = tps(r.ms[s.key]);
      const mark = s.torch && r.best[s.group]?.key === s.key ? ' **best**' : '';
      const label = s.torch ? `${GROUPS[s.group]}, ${threadText(s.threads)}, OMP_WAIT_POLICY ${s.wait}${mark}` : `${GROUPS[s.group]} (${threadText(s.threads)})`;
      const vs = s.torch && ourOf(s.group) ? `${fmt(tps(r.ms[ourOf(s.group).key]).med / t.med)}×` : '—';
      speedRows.push([r.c.name, label, fmt(t.ms), fmt(t.med), `${fmt(t.lo)}–${fmt(t.hi)}`, fmt(t.gflops), mfu(s.group, t), fmt(r.loss[s.key], 4), vs]);
    }
    for (const [g, why] of Object.entries(r.failed)) speedRows.push([r.c.name, GROUPS[g], why.startsWith('skipped') ? why : `failed: ${why}`, '—', '—', '—', '—', '—', '—']);
    if (r.peerError) speedRows.push([r.c.name, 'PyTorch', 'peer unavailable', '—', '—', '—', '—', '—', '—']);
    if (r.adamw.ours.length) {
      const a = tps(r.adamw.ours);
      speedRows.push([r.c.name, 'ours fp32 + AdamW update', fmt(a.ms), fmt(a.med), `${fmt(a.lo)}–${fmt(a.hi)}`, fmt(a.gflops), '—', '—', '—']);
      const tb = r.best['torch-fp32'];
      if (r.adamw.torch.length && tb) {
        const t = tps(r.adamw.torch);
        speedRows.push([r.c.name, `PyTorch eager fp32 + torch.optim.AdamW (${threadText(tb.threads)}, ${tb.wait})`, fmt(t.ms), fmt(t.med), `${fmt(t.lo)}–${fmt(t.hi)}`, fmt(t.gflops), '—', '—', `${fmt(a.med / t.med)}×`]);
      }
    }
    // memory: peak RSS while stepping minus RSS right after the model was built (both sides the same way)
    const delta = (m) => m.peak_rss - m.rss_after_build;
    const memOf = {};
    for (const g of Object.keys(GROUPS)) {
      const ms = r.mem.filter((m) => m.group === g);
      if (ms.length) memOf[g] = ms.reduce((a, b) => (delta(a) <= delta(b) ? a : b));
    }
    for (const [g, m] of Object.entries(memOf)) {
      const ours = g.startsWith('ours');
      const vsGroup = ours ? null : g === 'torch-fp32' ? 'ours-fp32' : 'ours-bf16';
      const proc = ours ? '' : ` (process: ${m.threads ? threadText(m.threads) : `OMP_WAIT_POLICY ${m.wait}`})`;
      memRows.push([r.c.name, `${GROUPS[g]}${proc}`, fmt(delta(m) / MiB), fmt(m.rss_after_build / MiB), fmt(m.peak_rss / MiB),
        ours ? `${fmt((m.alloc_peak - m.live_after_build) / MiB)} (peak ${fmt(m.alloc_peak / MiB)})` : 'no CPU peak counter',
        vsGroup && memOf[vsGroup] ? `${fmt(delta(memOf[vsGroup]) / delta(m))}×` : '—']);
    }
    if (r.peerError) memRows.push([r.c.name, 'PyTorch', 'peer unavailable', '—', '—', '—', '—']);
    // verdicts for the issue's four targets (plus memory)
    const med = (g) => (r.best[g] ? tps(r.ms[r.best[g].key]) : null);
    const o32 = med('ours-fp32'), o16 = med('ours-bf16');
    const ratioLine = (ours, g, target, what) => {
      if (r.peerError) return `${r.c.name}: ${what}: PyTorch peer unavailable (${r.peerError})`;
      if (r.failed[g]) return `${r.c.name}: ${what}: ${r.failed[g].startsWith('skipped') ? `peer ${r.failed[g]}` : `peer failed (${r.failed[g]})`}`;
      const t = med(g);
      const x = ours.med / t.med;
      return `${r.c.name}: ${what}: ${fmt(x)}× (${fmt(ours.med)} vs ${fmt(t.med)} tokens/s, peer's best setting ${threadText(r.best[g].threads)} ${r.best[g].wait}; target ≥ ${target}×: ${x >= target ? '**met**' : '**missed**'})`;
    };
    verdicts.push(ratioLine(o32, 'torch-fp32', TARGET_SPEED, 'fp32 vs PyTorch eager fp32'));
    verdicts.push(peakFp32 ? `${r.c.name}: fp32 MFU ${pct(o32.gflops / peakFp32)} of the measured 2-thread fp32 FMA peak (${fmt(o32.gflops)} of ${fmt(peakFp32)} GFLOP/s; target ≥ ${pct(TARGET_MFU)}: ${o32.gflops / peakFp32 >= TARGET_MFU ? '**met**' : '**missed**'})`
      : `${r.c.name}: fp32 MFU: FMA peak unavailable (${peak?.error ?? 'not measured'})`);
    verdicts.push(ratioLine(o16, 'torch-autocast', TARGET_BF16_AUTOCAST, 'bf16 vs PyTorch eager bf16 autocast'));
    verdicts.push(ratioLine(o16, 'torch-compile', TARGET_BF16_COMPILE, 'bf16 vs PyTorch torch.compile bf16'));
    if (memOf['torch-fp32']) {
      const x = delta(memOf['ours-fp32']) / delta(memOf['torch-fp32']);
      verdicts.push(`${r.c.name}: fp32 peak step memory ${fmt(x)}× PyTorch's (target ≤ 1×: ${x <= 1 ? 'met' : 'missed'})${memOf['torch-autocast'] ? `; bf16 ${fmt(delta(memOf['ours-bf16']) / delta(memOf['torch-autocast']))}× PyTorch autocast's` : ''}; ours bf16 / ours fp32 ${fmt(delta(memOf['ours-bf16']) / delta(memOf['ours-fp32']))}×`);
    }
  }
  const r0 = results[0];
  const peerName = r0.torchVersion ? `PyTorch ${r0.torchVersion}, transformers ${r0.tfVersion}` : 'PyTorch';
  const peakText = peak?.error ? `FMA peak unavailable (${peak.error})` : `measured by \`tools/bench/fma_peak.c\` (${peak.isa}, independent accumulator chains; the highest of ${peak.measurements ?? 1} measurements taken before and after each config, each the best of 5 runs, since load from other jobs only lowers it): fp32 FMA ${fmt(peak.fp32_1t)} GFLOP/s on 1 thread, **${fmt(peak.fp32_2t)}** on 2${peak.bf16_2t ? `; ${peak.bf16} (bf16 pairs into fp32) ${fmt(peak.bf16_1t)} on 1 thread, **${fmt(peak.bf16_2t)}** on 2` : '; no bf16 dot-product instruction on this CPU'} (a 2-thread figure below twice the 1-thread one means the second core was partly taken by other jobs while measuring, which flatters the MFU column)`;
  const md = `## Model: StellarForCausalLM training step vs PyTorch LlamaForCausalLM (fp32 and bf16)

Command: \`cd packages/nn && node bench/model.bench.mjs\` (part of \`pnpm bench\`; STELLAR_BENCH_ROUNDS=${ROUNDS})

Configs (the issue's): ${results.map((r) => `**${r.c.name}** — ${cfgText(r.c)} (${fmt(r.params / 1e6)} M parameters)`).join('; ')}. One step = \`model.forward(ids, {labels})\` + \`loss.backward()\` + \`loss.item()\` + \`model.zeroGrad()\` (peer: \`model(input_ids, labels=...)\`, \`backward()\`, \`item()\`, \`zero_grad(set_to_none=True)\`); **no optimizer step** except in the AdamW rows, where both sides add one AdamW update (ours \`adamwStep\`, the peer \`torch.optim.AdamW\`). Weights and gradients are fp32 in every row. **bf16** rows: ours runs the forward (with the loss) under \`autocast('bfloat16')\` — every matmul in bf16 with fp32 accumulation (\`vdpbf16ps\` where the CPU has it), attention, norms, SwiGLU and cross-entropy in fp32 — and backward outside it, as \`Trainer\` does for \`precision: 'bf16'\`; the peer runs its forward and loss under \`torch.autocast("cpu", dtype=torch.bfloat16)\` (eager, or around a \`torch.compile\`d model, compiled by its first warm-up step and not timed), backward outside. Peer: ${peerName} \`LlamaForCausalLM\`, \`attn_implementation="sdpa"\`, untied lm_head like ours. Every contender is its own long-lived process (ours fp32, ours bf16; each eager peer mode with 1 and 2 threads in one process and 2 threads with \`OMP_WAIT_POLICY=PASSIVE\` in another; the compiled peer in two processes with 1 and 2 threads fixed before compiling); after ${WARMUP} untimed steps each, they alternate one timed step each for ${ROUNDS} rounds (every other round in reverse order), 200 ms apart. tokens/s = B·T / step time (median; spread = slowest–fastest step). Model GFLOP/s = model FLOPs per step (6 per projection / lm_head weight per token, plus 12·D per visible query–key pair per head for causal attention, no recomputation counted: ${results.map((r) => `${r.c.name} ${fmt(stepFlops(r.c) / 1e9)} GFLOP`).join(', ')}) / median step time. MFU = model GFLOP/s / the machine's peak, ${peakText}; fp32 rows use the 2-thread fp32 peak, bf16 rows the 2-thread bf16 peak (strict for bf16: attention and the fp32 kernels cannot use that rate). The last column is ours (same precision) / that PyTorch setting; verdicts use each peer's fastest setting. Step loss = loss of the first warm-up step (ln ${r0.c.vocab} = ${fmt(Math.log(r0.c.vocab), 4)}: both models start near uniform; weights differ, inputs are the same token stream).

${table(['config', 'contender', 'ms/step (median)', 'tokens/s (median)', 'tokens/s spread', 'model GFLOP/s', 'MFU', 'step loss', 'ours vs this'], speedRows)}

Peak memory of a step, measured the same way on both sides: the process's peak RSS (VmHWM, reset through \`/proc/self/clear_refs\` right after the model and inputs were built) minus its RSS at that moment, read after all plain steps and before any optimizer state exists. For ours the allocator's own high-water mark above the live bytes after the build is given too (\`memStats()\`; it does not count OpenBLAS or V8 memory). PyTorch has no CPU peak counter, so RSS only; per peer mode the lowest of its processes is reported. The compiled peer's RSS includes what compilation left behind.

${table(['config', 'contender', 'step peak − build RSS (MiB)', 'RSS after build (MiB)', 'peak RSS (MiB)', 'allocator peak − build (MiB)', 'ours / peer (same precision)'], memRows)}

${verdicts.map((v) => `- ${v}`).join('\n')}

${profileSection(profiles)}

${note(results, profiles, peak)}
`;
  writeSection('model', md);
}

/** Our step's time by kernel category (forward / backward) from model-profile.mjs, one table per config and precision. */
function profileSection(profiles) {
  const parts = [];
  for (const p of profiles) {
    if (p.error) { parts.push(`Profile (${p.config} ${p.precision}): ${p.error}.`); continue; }
    const cats = new Map();
    for (const r of p.rows) {
      const c = cats.get(r.what) ?? { fwd: 0, bwd: 0, share: 0 };
      c[r.pass === 'forward' ? 'fwd' : 'bwd'] += r.msPerStep;
      c.share += r.share;
      cats.set(r.what, c);
    }
    const rows = [...cats].sort((x, y) => y[1].share - x[1].share).filter(([, c]) => c.share >= 0.002)
      .map(([what, c]) => [what, fmt(c.fwd), fmt(c.bwd), `${(100 * c.share).toFixed(1)} %`]);
    parts.push(`Where our step's time goes (**${p.config}, ${p.precision ?? 'fp32'}**, \`node bench/model-profile.mjs ${p.config} 3${p.precision === 'bf16' ? ' --precision bf16' : ''}\`: V8's sampling profiler over ${p.steps} steps at ${fmt(p.wallMsPerStep)} ms per step, each sample charged to the native kernel being run, or to JavaScript):\n\n${table(['kernel', 'forward ms/step', 'backward ms/step', 'share'], rows)}`);
  }
  return parts.join('\n\n');
}

const shareOf = (p, re) => (p.error ? null : p.rows.filter((r) => re.test(r.what)).reduce((a, r) => a + r.share, 0));
const msOf = (p, re) => (p.error ? null : p.rows.filter((r) => re.test(r.what)).reduce((a, r) => a + r.msPerStep, 0));

/** Ours bf16 / ours fp32 step peak (RSS above the build) per config, from this run. */
function memRatio(results) {
  return results.map((r) => {
    const d = (g) => r.mem.filter((m) => m.group === g).map((m) => m.peak_rss - m.rss_after_build)[0];
    return d('ours-fp32') ? `${fmt(d('ours-bf16') / d('ours-fp32'))}× (${r.c.name})` : null;
  }).filter(Boolean).join(', ') || 'not measured';
}

/** The paragraph on what limits the result; the shares and floors come from this run. */
function note(results, profiles, peak) {
  const prof = (precision) => profiles.filter((p) => (p.precision ?? 'fp32') === precision && !p.error);
  const gemm = (precision) => prof(precision).map((p) => `${pct(shareOf(p, /^GEMM/))} (${p.config})`).join(', ') || 'most';
  const casts = prof('bf16').map((p) => `${fmt(msOf(p, /^bf16 casts/))} ms = ${(100 * shareOf(p, /^bf16 casts/)).toFixed(1)} % (${p.config})`).join(', ');
  const attn = prof('bf16').map((p) => `${pct(shareOf(p, /^attention/))} (${p.config})`).join(', ');
  const gemmRate = prof('bf16').map((p) => {
    const c = results.find((r) => r.c.name === p.config)?.c;
    if (!c) return null;
    const D = c.dim / c.heads;
    const gemmFlops = stepFlops(c) - c.layers * c.batch * c.heads * 12 * D * (c.seq * (c.seq + 1)) / 2;
    return `${fmt(gemmFlops / (msOf(p, /^GEMM/) / 1e3) / 1e9)} GFLOP/s (${p.config})`;
  }).filter(Boolean).join(', ');
  const floor = (bytes) => results.map((r) => `${fmt(stepFlops(r.c) / bytes * 1e3)} ms (${r.c.name})`).join(', ');
  const pk = peak && !peak.error ? peak : null;
  return `What limits us: GEMM throughput. fp32: the projection, MLP and lm_head GEMMs take ${gemm('fp32')} of our step. They run as single-threaded OpenBLAS calls on pieces of the output's rows (or columns) that the threads of our pool take in turn (\`csrc/cpu/sgemm_pool.cc\`; taking them on demand lets one thread do more when another job holds part of the other core)${pk ? `; at the measured 2-thread fp32 FMA peak (${fmt(pk.fp32_2t)} GFLOP/s) the model FLOPs alone need ${floor(pk.fp32_2t * 1e9)} per step` : ''}, so the rest of the step (fused attention, SwiGLU, RMSNorm, RoPE, cross-entropy, copies, autograd in JavaScript) is all that is left to win in fp32. bf16: GEMMs take ${gemm('bf16')} of the bf16 step and run at ${gemmRate || '(no profile)'} of model GEMM FLOPs${pk?.bf16_2t ? ` against a \`vdpbf16ps\` peak of ${fmt(pk.bf16_2t)}` : ''} (our bf16 kernel in \`csrc/cpu/bf16_gemm*.cc\`); the casts autocast adds (both operands of every forward matmul, the output gradient once per matmul in backward) cost ${casts || '(no profile)'}, and the fp32 attention kernel, which autocast leaves alone, grows to ${attn || '(no profile)'} of the step. Weights are cast once per step (their bf16 copies are saved for backward); activations are cast as they enter each matmul. Also in this round: the gradient of a weight used as \`x @ W^T\` is computed in W's own layout (in bf16 too) and taken over as \`.grad\` without a copy. Left in the model code (\`packages/nn/src/model\`): q/k/v and gate/up are separate, narrower GEMMs (fused weights would run closer to peak and halve the kernel calls, and halve the activation casts), and the attention output is transposed and copied before o_proj. This host is shared: other jobs take part of the second core at random moments, which moves every 2-thread figure (ours and PyTorch's) and the measured peak, so only ratios within one run mean anything. Memory: our peak is the logits (the loss shifts the labels, so the logits are never copied), the activations saved for backward and the gradients, served by the caching allocator, whose freed blocks stay in RSS for reuse; under bf16 the matmuls save bf16 copies of their inputs (one per activation, shared by the matmuls it feeds) instead of the fp32 activations, which shrinks what a forward leaves for backward by about a tenth (small: 657 → 582 MiB measured once), but much of the peak is the fp32 (B, T, V) logits (128 MiB on small) and their gradient in backward, which autocast leaves fp32 (matmul returns fp32 and cross-entropy is fp32), so ours bf16 / ours fp32 peak is ${memRatio(results)}.`;
}

async function main() {
  // the measurements are kept next to the section, so `--report-only` can re-render it without re-running
  const raw = path.join(repoRoot(), '.bench', 'model.raw.json');
  if (process.argv.includes('--report-only')) {
    const { results, profiles, peak } = JSON.parse(fs.readFileSync(raw, 'utf8'));
    report(results, profiles, peak);
    return;
  }
  // the peak is a property of the machine and load only lowers it: measure before and after every
  // config and keep the highest figure of each kind
  const peaks = [fmaPeak()];
  const python = findPython(repoRoot());
  const results = [];
  for (const c of CONFIGS) { results.push(await runConfig(c, python)); peaks.push(fmaPeak()); }
  const ok = peaks.filter((p) => !p.error);
  const peak = ok.length ? { ...ok[0], measurements: ok.length } : peaks[0];
  for (const p of ok) for (const k of ['fp32_1t', 'fp32_2t', 'bf16_1t', 'bf16_2t']) if (p[k] > (peak[k] ?? 0)) peak[k] = p[k];
  console.log(peak.error ? `[model] ${peak.error}` : `[model] FMA peak (highest of ${ok.length}): ${JSON.stringify(peak)}`);
  const profiles = CONFIGS.flatMap((c) => ['fp32', 'bf16'].map((precision) => { console.log(`[model] profiling our ${c.name} ${precision} step`); return profileOurs(c.name, precision); }));
  fs.mkdirSync(path.dirname(raw), { recursive: true });
  fs.writeFileSync(raw, JSON.stringify({ results, profiles, peak }));
  report(results, profiles, peak);
}

await main();
