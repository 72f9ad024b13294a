// Benchmark: RLHF throughput against TRL on the same model and data, in the same run: PPO rollout
// generation and PPO optimization tokens/s (ours PpoLoop vs TRL 0.x's PPO step re-implemented in torch,
// since TRL 1.x has no PPO trainer), GRPO step tokens/s (ours GrpoLoop vs TRL GRPOTrainer on CPU) and DPO
// tokens/s (ours Trainer + dpoLoss vs TRL DPOTrainer, both with precomputed reference log-probs).
// Each side is one long-lived process per loop (bench/rl-worker.mjs, tools/bench/trl_rl.py) stepped on
// request, alternating ours / TRL 1 thread / TRL 2 threads every round.
// Usage (after `npx tsup` in the workspace packages): node bench/rl.bench.mjs   Writes <repo>/.bench/rl.md.
// STELLAR_BENCH_ROUNDS (default 7) sets the timed rounds; STELLAR_BENCH_RL_MODES=ppo,grpo,dpo picks loops;
// `--report-only` re-renders the section from .bench/rl.raw.json.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stats, fmt, table, writeSection, sleep, repoRoot } from '../../tensor/bench/bench-util.mjs';
import { ensureSetup, MODEL } from './rl-setup.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.STELLAR_BENCH_ROUNDS ?? 7);
const WARMUP = 2;   // untimed steps per contender (the peer's first step pays one-off costs)
// A peer setting whose last warm-up step is this many times slower than the fastest peer setting's, and slower by
// at least DROP_MS, cannot be the best one; it is reported but not timed (on a loaded host a spinning 2-thread
// OpenMP pool can take 20x longer, tens of seconds per PPO iteration). The absolute margin keeps one noisy warm-up
// step of a short (DPO) step from dropping a setting that may be the fastest.
const DROP_FACTOR = 3, DROP_MS = 3000;
const live = new Set();   // worker processes to kill if the bench dies
process.on('exit', () => { for (const w of live) w.proc.kill(); });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
const MODES = (process.env.STELLAR_BENCH_RL_MODES ?? 'ppo,grpo,dpo').split(',').filter(Boolean);
// The same settings go to both sides' command lines.
const RUN = { batch: 16, miniBatch: 8, epochs: 4, newTokens: 32, promptsPerStep: 4, generations: 4, dpoPairs: 8, maxLength: 128, pairs: 512, lr: 1e-5 };

// ---- workers: rl-worker.mjs and trl_rl.py speak the same line protocol -------------------------------
class Worker {
  constructor(label, cmd, args, env = {}) {
    this.label = label;
    this.stderr = [];
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.proc.on('error', (e) => this.stderr.push(e.message));
    // keep the tail of stderr for error messages; TRL's progress bars go there too
    this.proc.stderr.on('data', (d) => { this.stderr.push(String(d)); if (this.stderr.length > 50) this.stderr.shift(); });
    live.add(this);
    this.exited = new Promise((r) => this.proc.on('exit', () => { live.delete(this); r(); }));
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async next() {
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`${this.label} exited: ${this.stderr.join('').trim().split('\n').slice(-3).join(' / ').slice(0, 400)}`);
    let r;
    try { r = JSON.parse(value); } catch { return this.next(); }   // a library's stray print on stdout
    if (!r.ok) throw new Error(`${this.label}: ${r.error}`);
    return r;
  }
  async ask(cmd) { this.proc.stdin.write(cmd + '\n'); return this.next(); }
  async close() { try { this.proc.stdin.end('quit\n'); } catch { /* gone */ } await Promise.race([this.exited, sleep(10000)]); this.proc.kill(); }
}

/** Starts a worker and reads its hello and ready lines. */
async function start(label, cmd, args, env) {
  const w = new Worker(label, cmd, args, env);
  try { const hello = await w.next(); await w.next(); return { w, hello }; } catch (e) { await w.close(); return { error: e.message }; }
}

const PEER_IMPORTS = 'import torch, transformers, trl, datasets';
const hasPeerDeps = (py) => spawnSync(py, ['-c', PEER_IMPORTS], { stdio: 'ignore' }).status === 0;

/** A Python with torch, transformers and TRL: $STELLAR_PYTHON, else <repo>/.venv-ref (created or completed with pip). */
function findPython(root) {
  if (process.env.STELLAR_PYTHON) return { python: process.env.STELLAR_PYTHON };
  const py = path.join(root, '.venv-ref', 'bin', 'python');
  if (fs.existsSync(py) && hasPeerDeps(py)) return { python: py };
  if (!fs.existsSync(py)) {
    console.log('[rl] creating .venv-ref for the TRL peer (one time)');
    const venv = spawnSync('python3', ['-m', 'venv', path.join(root, '.venv-ref')], { stdio: 'inherit' });
    if (venv.status !== 0) return { error: '`python3 -m venv .venv-ref` failed' };
  }
  console.log('[rl] installing torch, transformers, trl and datasets into .venv-ref for the TRL peer (one time)');
  // the local wheel mirror when this machine has one, else pip's configured (public) index
  const mirror = fs.existsSync('/opt/pypi/simple') ? ['--index-url', 'file:///opt/pypi/simple', '--extra-index-url', 'file:///opt/pypi-more/simple'] : [];
  const pip = spawnSync(py, ['-m', 'pip', 'install', ...mirror, 'torch', 'numpy', 'transformers', 'trl', 'datasets'], { stdio: 'inherit' });
  if (pip.status !== 0 || !hasPeerDeps(py)) return { error: '`pip install torch numpy transformers trl datasets` into .venv-ref failed' };
  return { python: py };
}

function argsFor(mode, setup) {
  const batch = mode === 'dpo' ? RUN.dpoPairs : RUN.batch;
  return ['--mode', mode, '--model', setup.dir, '--prefs', setup.prefs, '--prompts', setup.prompts, '--batch', batch, '--mini-batch', RUN.miniBatch,
    '--epochs', RUN.epochs, '--new-tokens', RUN.newTokens, '--prompts-per-step', RUN.promptsPerStep, '--generations', RUN.generations,
    '--max-length', RUN.maxLength, '--pairs', RUN.pairs, '--lr', RUN.lr].map(String);
}

// ---- one loop: ours and the peer (1 and 2 threads) alternate, one step each per round ----------------
async function runMode(mode, setup, python) {
  const args = argsFor(mode, setup);
  const ours = await start(`rl-worker.mjs --mode ${mode}`, process.execPath, [path.join(here, 'rl-worker.mjs'), ...args]);
  if (ours.error) throw new Error(ours.error);
  // two peer processes: torch's default OpenMP wait policy (stepped at 1 and 2 threads) and PASSIVE (2 threads),
  // whose idle workers sleep instead of spinning, which can win on a host where other jobs take part of a core
  let peerError = python.error ?? null, peer = null, passive = null;
  if (!peerError) {
    console.log(`[rl] ${mode}: starting the TRL peer${mode === 'dpo' ? ' (it precomputes the reference log-probs first)' : ''}`);
    const script = [path.join(repoRoot(), 'tools', 'bench', 'trl_rl.py'), ...args];
    peer = await start(`trl_rl.py --mode ${mode}`, python.python, script);
    if (peer.error) { peerError = peer.error; peer = null; }
    else {
      passive = await start(`trl_rl.py --mode ${mode} (OMP_WAIT_POLICY=PASSIVE)`, python.python, script, { OMP_WAIT_POLICY: 'PASSIVE' });
      if (passive.error) { console.log(`[rl] ${mode}: the PASSIVE peer process failed to start: ${passive.error}`); passive = null; }
    }
  }
  if (peerError) console.log(`[rl] ${mode}: TRL peer unavailable: ${peerError}`);
  let contenders = [{ key: 'ours', p: ours, threads: ours.hello.threads }];
  if (peer) contenders.push({ key: 'trl-1', p: peer, threads: 1, peer: true }, { key: 'trl-2', p: peer, threads: 2, peer: true });
  if (passive) contenders.push({ key: 'trl-2p', p: passive, threads: 2, peer: true });
  const samples = Object.fromEntries(contenders.map((c) => [c.key, []]));
  const stepOf = async (c) => {
    if (c.peer) await c.p.w.ask(`threads ${c.threads}`);
    await sleep(200);   // lets the other side's BLAS / OpenMP workers park
    return c.p.w.ask('step');
  };
  const fail = (c, e) => {
    if (!c.peer) throw e;
    peerError = String(e.message).split('\n')[0].slice(0, 300);
    console.log(`[rl] ${mode}: TRL peer failed: ${peerError}`);
    contenders = contenders.filter((x) => !x.peer);
  };
  const stepMs = (x) => (x.ms ?? x.gen_ms + x.opt_ms);
  const warm = {};
  for (let i = 0; i < WARMUP; i++) for (const c of [...contenders]) { try { warm[c.key] = stepMs(await stepOf(c)); } catch (e) { fail(c, e); } }
  const dropped = {};
  const peerWarm = contenders.filter((c) => c.peer).map((c) => warm[c.key]);
  for (const c of contenders.filter((x) => x.peer)) {
    if (warm[c.key] > DROP_FACTOR * Math.min(...peerWarm) && warm[c.key] > Math.min(...peerWarm) + DROP_MS) {
      dropped[c.key] = { ms: warm[c.key], best: Math.min(...peerWarm) };
      console.log(`[rl] ${mode}: ${c.key} not timed: its last warm-up step took ${Math.round(warm[c.key])} ms, over ${DROP_FACTOR}x the fastest TRL setting's ${Math.round(Math.min(...peerWarm))} ms`);
    }
  }
  contenders = contenders.filter((c) => !dropped[c.key]);
  for (let r = 0; r < ROUNDS; r++) {
    // every other round in reverse order, so a load change during a round hits no contender first every time
    for (const c of r % 2 ? [...contenders].reverse() : [...contenders]) {
      try { samples[c.key].push(await stepOf(c)); } catch (e) { fail(c, e); }
    }
    console.log(`[rl] ${mode} round ${r + 1}/${ROUNDS}: ${contenders.map((c) => `${c.key} ${JSON.stringify(samples[c.key].at(-1))}`).join(', ')}`);
  }
  await ours.w.close();
  for (const p of [peer, passive]) if (p) await p.w.close();
  return { mode, samples: Object.fromEntries(Object.entries(samples).filter(([, s]) => s.length)), dropped, peerError, ourThreads: ours.hello.threads, params: ours.hello.params, peerHello: peer?.hello ?? null };
}

// ---- report --------------------------------------------------------------------------------------------
const ROWS = [
  { mode: 'ppo', name: 'PPO rollout generation', peer: 'transformers `model.generate()` with the GenerationConfig GRPOTrainer builds', ms: 'gen_ms', tok: 'gen_tokens', unit: 'new tokens' },
  { mode: 'ppo', name: 'PPO optimization', peer: 'TRL 0.x PPO step in torch', ms: 'opt_ms', tok: 'opt_tokens', unit: 'response tokens × epochs' },
  { mode: 'grpo', name: 'GRPO step', peer: 'TRL `GRPOTrainer` step', ms: 'ms', tok: 'tokens', unit: 'completion tokens' },
  { mode: 'dpo', name: 'DPO step', peer: 'TRL `DPOTrainer` step', ms: 'ms', tok: 'tokens', unit: 'pair tokens (both rows, no padding)' },
];

const SETTING = { 'trl-1': '1 thread', 'trl-2': '2 threads', 'trl-2p': '2 threads, OMP_WAIT_POLICY=PASSIVE' };

function report(results, machine) {
  const rows = [], verdicts = [];
  for (const spec of ROWS) {
    const res = results.find((r) => r.mode === spec.mode);
    if (!res) continue;
    const tps = (xs) => {
      const rates = xs.map((x) => x[spec.tok] / (x[spec.ms] / 1e3));
      const s = stats(rates), m = stats(xs.map((x) => x[spec.ms]));
      return { med: s.median, lo: s.min, hi: s.max, ms: m.median, tokens: stats(xs.map((x) => x[spec.tok])).median, n: s.n };
    };
    const ours = res.samples.ours ? tps(res.samples.ours) : null;
    const peers = Object.keys(SETTING).filter((k) => res.samples[k]).map((k) => ({ k, t: tps(res.samples[k]) }));
    const best = peers.reduce((a, b) => (!a || b.t.med > a.t.med ? b : a), null);
    if (ours) rows.push([spec.name, `ours (${res.ourThreads} threads)`, fmt(ours.tokens), fmt(ours.ms), fmt(ours.med), `${fmt(ours.lo)}–${fmt(ours.hi)}`, '—']);
    for (const { k, t } of peers) {
      rows.push([spec.name, `${spec.peer}, ${SETTING[k]}${best?.k === k ? ' **best**' : ''}`, fmt(t.tokens), fmt(t.ms), fmt(t.med), `${fmt(t.lo)}–${fmt(t.hi)}`, `${fmt(ours.med / t.med)}×`]);
    }
    for (const [k, d] of Object.entries(res.dropped ?? {})) {
      rows.push([spec.name, `${spec.peer}, ${SETTING[k]}`, '—', `not timed: last warm-up step ${fmt(d.ms)} ms (whole ${spec.mode === 'ppo' ? 'PPO iteration' : 'step'}) vs ${fmt(d.best)} ms for the fastest TRL setting`, '—', '—', '—']);
    }
    if (!peers.length) rows.push([spec.name, spec.peer, 'peer unavailable', '—', '—', '—', '—']);
    verdicts.push(best
      ? `${spec.name}: ours / TRL = **${fmt(ours.med / best.t.med)}×** (${fmt(ours.med)} vs ${fmt(best.t.med)} ${spec.unit}/s, TRL's best setting ${SETTING[best.k]}; ${ours.n} rounds each)`
      : `${spec.name}: TRL peer unavailable (${res.peerError ?? 'no samples'})`);
  }
  const h = results.find((r) => r.peerHello)?.peerHello;
  const peerName = h ? `PyTorch ${h.torch}, transformers ${h.transformers}, TRL ${h.trl}` : 'TRL (unavailable in this run)';
  const params = results[0]?.params;
  const md = `## RLHF: PPO, GRPO and DPO throughput vs TRL

Command: \`cd packages/train && node bench/rl.bench.mjs\` (part of \`pnpm bench\`; STELLAR_BENCH_ROUNDS=${ROUNDS})

Same model and data on both sides: a random-init LLaMA (vocab ${MODEL.vocab}, dim ${MODEL.dim}, ${MODEL.layers} layers, ${MODEL.heads} heads / ${MODEL.kvHeads} KV, FFN ${MODEL.ffn}, untied lm_head${params ? `; ${fmt(params / 1e6)} M parameters` : ''}) saved by our \`savePretrained\` with a byte-level BPE tokenizer trained by our \`trainBpe\` (Moby-Dick + the task texts) into one HF directory, which ours loads with \`fromPretrained\` and the peer with \`AutoModelForCausalLM\` / \`AutoTokenizer\` (fp32, sdpa). Data: \`builtinPreferences()\` and \`builtinPrompts()\` (train splits) written as conversational JSONL; both sides render them with the same ChatML template from the saved \`tokenizer_config.json\` (our \`encodeChat\` and transformers' \`apply_chat_template\` gave identical ids on the prompts and pairs checked while writing this bench; the tokens/step column shows both sides process the same counts). Peer: ${peerName}, CPU, fp32, no vLLM. Rows:
- **PPO rollout generation** — ${RUN.batch} prompts × ${RUN.newTokens} new tokens per rollout, sampling (temperature 1, no top-k/top-p), EOS ignored so both sides produce the same count (ours: no EOS id; peer: \`min_new_tokens = max_new_tokens\`). Ours: the \`generate()\` call inside \`PpoLoop.run()\` (KV cache), as the loop times it. Peer: TRL 1.13 has **no PPO trainer** (removed after 0.x), so this is \`model.generate(..., generation_config=GenerationConfig(do_sample, temperature, top_k=0, top_p=1, ...))\` on left-padded prompts, exactly the call \`GRPOTrainer\`'s non-vLLM path makes.
- **PPO optimization** — the PPO epochs of one rollout: ${RUN.epochs} epochs × ${RUN.batch / RUN.miniBatch} minibatches of ${RUN.miniBatch} rows, each a forward of policy + shared-trunk value head, clipped policy loss + 0.1 × clipped value loss, backward, grad-norm clip 1, AdamW. Ours: \`PpoLoop\` (shared \`StellarForCausalLMWithValueHead\`, k1 KL to a frozen reference, GAE, whitening) as it times its update phase. Peer: TRL 0.x's PPO step **re-implemented in torch** in \`tools/bench/trl_rl.py\` (\`selective_log_softmax\`, \`masked_whiten\`, the clipped losses and the no-grad entropy / approx-KL statistics TRL logs; value head = TRL's \`ValueHead.summary\` on the last hidden state), since no TRL 1.x trainer runs PPO. tokens/s = response tokens × epochs / update time.
- **GRPO step** — one optimizer step of ${RUN.promptsPerStep} prompts × ${RUN.generations} generations × ${RUN.newTokens} tokens: generation + rule reward (share of digits in the response, the same function on both sides) + loss + backward + AdamW; β = 0 (TRL's default, so no reference), one pass per rollout, sequence-level aggregation (\`loss_type="grpo"\`). Ours: \`GrpoLoop.run()\`; peer: \`GRPOTrainer\` (\`use_cpu=True\`, bf16 off, \`use_vllm=False\`, \`generation_kwargs={"min_new_tokens": ${RUN.newTokens}}\`) gated one step at a time by a \`TrainerCallback\`. tokens/s = completion tokens / step time.
- **DPO step** — ${RUN.dpoPairs} pairs per step, max length ${RUN.maxLength}, β 0.1, lr ${RUN.lr.toExponential()}, grad-norm clip 1, reference log-probs precomputed once before training with the starting policy (not timed), first ${RUN.pairs} pairs. Ours: \`Trainer\` + \`dpoLoss\` after \`precomputeReferenceLogps\`, its data source gated one batch at a time; peer: \`DPOTrainer\` with \`precompute_ref_log_probs=True\`, gated by a \`TrainerCallback\`. A step is the trainer's batch fetch + forward over the 2P rows + backward + clip + AdamW; tokens/s = non-padding tokens of both rows of every pair / step time.

Each loop's processes (ours, and two TRL processes) start together; after ${WARMUP} untimed steps per contender, ours, TRL with \`torch.set_num_threads(1)\`, TRL with 2 threads (one process, switched between steps) and TRL with 2 threads in a second process started with \`OMP_WAIT_POLICY=PASSIVE\` take one timed step each per round, for ${ROUNDS} rounds (every other round in reverse order, 200 ms apart). tokens/s: median over rounds, spread = slowest–fastest round; "ours vs this" = ours median / that setting's median; verdicts use TRL's fastest setting. A TRL setting whose last warm-up step took more than ${DROP_FACTOR}× the fastest TRL setting's, and over ${DROP_MS / 1000} s longer, is not timed (it cannot be the best, and on a loaded host a spinning 2-thread OpenMP pool can take tens of seconds per step); its warm-up time is listed instead. Machine: ${machine.cpu}, ${machine.cores} logical cores, Node ${machine.node}; load average ${machine.loadBefore} before, ${machine.loadAfter} after.

${table(['row', 'contender', 'tokens/step', 'ms/step (median)', 'tokens/s (median)', 'tokens/s spread', 'ours vs this'], rows)}

${verdicts.map((v) => `- ${v}`).join('\n')}

${note(results)}
`;
  writeSection('rl', md);
}

/** Weights that take part in a matmul per token (projections, MLP, lm_head): 6 FLOPs each per trained token. */
const matmulParams = () => {
  const kv = (MODEL.dim / MODEL.heads) * MODEL.kvHeads;
  return MODEL.layers * (2 * MODEL.dim * MODEL.dim + 2 * MODEL.dim * kv + 3 * MODEL.dim * MODEL.ffn) + MODEL.vocab * MODEL.dim;
};

/** Model GFLOP/s of the PPO updates (forward + backward over every row position), ours and TRL's best setting. */
function ppoGflops(results) {
  const r = results.find((x) => x.mode === 'ppo');
  if (!r?.samples.ours?.[0]?.opt_row_tokens) return null;
  const g = (xs) => stats(xs.map((x) => (6 * matmulParams() * x.opt_row_tokens) / (x.opt_ms / 1e3) / 1e9)).median;
  const peers = Object.keys(SETTING).filter((k) => r.samples[k]?.[0]?.opt_row_tokens).map((k) => g(r.samples[k]));
  return { ours: g(r.samples.ours), peer: peers.length ? Math.max(...peers) : null, rowTokens: stats(r.samples.ours.map((x) => x.opt_row_tokens)).median / (RUN.epochs * RUN.batch) };
}

function note(results) {
  const gf = ppoGflops(results);
  const gfText = gf ? ` In the PPO updates (rows of ~${fmt(gf.rowTokens)} positions, prompt + response, ${fmt(matmulParams() / 1e6)} M matmul weights, 6 FLOPs per weight per position; attention is negligible at this length) ours runs at **${fmt(gf.ours)} GFLOP/s** of model FLOPs${gf.peer ? ` and TRL's best setting at **${fmt(gf.peer)}**` : ''}, against roughly 100 GFLOP/s per core that OpenBLAS sgemm reaches on large matrices on this CPU (\`packages/nn/bench/model.bench.mjs\` measures the FMA peak): GEMMs of 8 × ~${fmt(gf.rowTokens)} = ~${fmt(8 * gf.rowTokens)} rows by 128–688 columns (4096 for the lm_head) are too small to run near peak. A V8 profile of our PPO worker taken while writing this bench (\`node --cpu-prof bench/rl-worker.mjs --mode ppo\`, 4 iterations including start-up, not part of the bench) charged about two thirds of all samples to GEMM kernels, about a tenth to the other native kernels and about an eighth to JavaScript (start-up, tokenization and the autograd bookkeeping together), so our side is limited by small-GEMM efficiency more than by JavaScript.` : '';
  return `What limits these results: the model is small (${MODEL.dim} wide, ${MODEL.layers} layers) and the built-in data is short (a task prompt is ~17 tokens, an answer a few), so no row comes near the machine's GEMM peak and fixed per-call costs weigh a lot on both sides (Python dispatch, the HF \`Trainer\` machinery and \`generate()\`'s per-step logits processing on TRL's side). Rollout generation is a batch-${RUN.batch} decode of one token at a time through the KV cache (matrix–vector-like GEMMs, memory-bound at this size).${gfText} The comparison is not entirely like for like: our GRPO iteration always scores the rollout once more under the policy for the "old" log-probs, which TRL skips when one pass is made per rollout (it uses the detached current log-probs), so our GRPO row does one extra forward; our PPO pads rows on the right and TRL on the left (same token counts); TRL's DPO completion includes the newline after \`<|im_end|>\` while ours stops the labels at \`<|im_end|>\` (the rows, and so the tokens counted, are the same). This host is shared with other jobs: the 2-thread figures of both sides move with the load of the second core, so only the ratios within one run mean anything, and these are indicative.`;
}

async function main() {
  const raw = path.join(repoRoot(), '.bench', 'rl.raw.json');
  if (process.argv.includes('--report-only')) {
    const { results, machine } = JSON.parse(fs.readFileSync(raw, 'utf8'));
    report(results, machine);
    return;
  }
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown CPU', cores: os.cpus().length, node: process.versions.node, loadBefore: load() };
  console.log('[rl] preparing the shared model directory and data (.bench/rl-setup)');
  const setup = await ensureSetup(repoRoot());
  const python = findPython(repoRoot());
  const results = [];
  for (const mode of MODES) results.push(await runMode(mode, setup, python));
  machine.loadAfter = load();
  fs.mkdirSync(path.dirname(raw), { recursive: true });
  fs.writeFileSync(raw, JSON.stringify({ results, machine }));
  report(results, machine);
}

await main();
