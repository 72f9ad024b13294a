// `mpirun -np 2 stellar-train …` (the built CLI in child processes): 2 ranks with the same global batch
// follow the 1-process run (losses, evals, final weights) for pretrain, lora and distill, in one run
// directory written by rank 0 alone (rank 1 traced with strace); the pipeline runs; a stopped 2-rank run
// resumes on both ranks exactly; Ctrl-C on mpirun saves and ends every rank; errors are reported once.
// Plus, without mpirun, the pieces: row sharding, threads per rank, per-rank dropout streams.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { builtinCorpus } from '@stellar/data';
import { loadSafetensors } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig } from '@stellar/nn';
import { SINGLE_PROCESS, causalLmLoss, mpi, onMain, rowShardedSource, type Batch, type DistributedContext } from '@stellar/train';
import { main } from '../src/cli';
import { perRankRandomness, threadsPerRank } from '../src/distributed';

const cli = path.join(__dirname, '..', 'dist', 'cli.js');
const built = fs.existsSync(cli);
const onPath = (exe: string) => (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, exe)));
const mpirun = onPath('mpirun');
const usable = built && mpirun && mpi.mpiAvailable();
const why = !built ? 'apps/train/dist/cli.js not built (pnpm build)' : !mpirun ? 'mpirun not found (apt-get install openmpi-bin)' : 'libmpi.so not loadable';
type Body = NonNullable<Parameters<typeof test>[1]>;
const mpiTest = (name: string, fn: Body, ms: number) => (usable ? test(name, fn, ms) : test.skip(`SKIPPED: ${why} — ${name}`, fn));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-mpi-app-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const text = path.join(tmp, 'text.txt');
fs.writeFileSync(text, builtinCorpus(['moby-dick']).files.slice(0, 6).map((f) => fs.readFileSync(f, 'utf8')).join('\n'));

// the library test's launcher flags; no single-copy (CMA) transport, which containers often forbid
const MPIRUN = ['--allow-run-as-root', '--oversubscribe', '--bind-to', 'none'];
const env = { ...process.env, OMPI_MCA_btl_vader_single_copy_mechanism: 'none' };
const STEPS = 60;
let tokDir = '';

function pretrainArgs(runDir: string, extra: string[] = []): string[] {
  return [cli, 'pretrain', `run_dir=${runDir}`, `tokenizer=${tokDir}`, `data.pretrain=[${text}]`, 'model.dim=64', 'model.n_layers=2', 'model.n_heads=2',
    'model.ffn_dim=96', `train.steps=${STEPS}`, 'train.batch_size=8', 'train.seq_len=64', 'train.eval_every=30', 'train.eval_batches=2',
    'train.save_every=30', 'train.keep_last=2', ...extra];
}

function run(np: number | null, args: string[], mpiFlags: string[] = []): SpawnSyncReturns<string> {
  return np === null
    ? spawnSync(process.execPath, args, { encoding: 'utf8', env, timeout: 120_000 })
    : spawnSync('mpirun', [...MPIRUN, ...mpiFlags, '-np', String(np), process.execPath, ...args], { encoding: 'utf8', env, timeout: 120_000 });
}

function ok(r: SpawnSyncReturns<string>): SpawnSyncReturns<string> {
  if (r.status !== 0) throw new Error(`exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The only run directory of `stage` under `runDir` (fails when there are several). */
function onlyRun(runDir: string, stage = 'pretrain'): string {
  const runs = fs.readdirSync(path.join(runDir, stage));
  expect(runs).toHaveLength(1);
  return path.join(runDir, stage, runs[0]);
}

type Row = Record<string, number>;
const metrics = (dir: string): Row[] => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
/** [step, loss] and [step, eval_loss] rows: what must agree between runs (times differ). */
const curve = (rows: Row[]) => rows.map((r) => ('loss' in r ? ['loss', r.step, r.loss] : ['eval', r.step, r.eval_loss]));

function expectClose(a: Row[], b: Row[], rtol: number): number {
  expect(curve(b).map((c) => c.slice(0, 2))).toEqual(curve(a).map((c) => c.slice(0, 2)));
  let worst = 0;
  curve(a).forEach((c, i) => { worst = Math.max(worst, Math.abs(c[2] as number - (curve(b)[i][2] as number)) / Math.abs(c[2] as number)); });
  expect(worst).toBeLessThan(rtol);
  return worst;
}

function weights(file: string): Map<string, Float64Array> {
  const { tensors } = loadSafetensors(file);
  const out = new Map<string, Float64Array>();
  for (const [k, t] of tensors) { out.set(k, t.toFloat64()); t.dispose(); }
  return out;
}

function maxWeightDiff(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  let m = 0;
  for (const [k, w] of a) w.forEach((v, i) => { m = Math.max(m, Math.abs(v - b.get(k)![i])); });
  return m;
}

/** Sends `signal` to mpirun once rank 0's first progress line is out; resolves with mpirun's exit and stderr. */
async function stopWhenTraining(args: string[], signal: NodeJS.Signals, mpiFlags: string[] = []): Promise<{ code: number | null; stderr: string; ms: number }> {
  const p = spawn('mpirun', [...MPIRUN, ...mpiFlags, '-np', '2', process.execPath, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '', sentAt = 0;
  p.stderr.on('data', (d) => {
    stderr += d;
    if (!sentAt && /step \d+\/\d+/.test(stderr)) { sentAt = Date.now(); p.kill(signal); }
  });
  // SIGTERM, not SIGKILL: mpirun then takes its ranks down with it
  const guard = setTimeout(() => p.kill('SIGTERM'), 90_000);
  const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  clearTimeout(guard);
  return { code, stderr, ms: sentAt ? Date.now() - sentAt : NaN };
}

// --- without mpirun: the pieces the data-parallel CLI is made of ------------------------------------

const rank = (r: number, n: number): DistributedContext => ({ rank: r, worldSize: n, isMain: r === 0, usesMpi: n > 1 });

test('rowShardedSource: rank r gets rows [r·B/N, (r+1)·B/N) of every per-token and per-row array, the cursor stays shared, B must divide', async () => {
  const B = 4, T = 3;
  const batch = (k: number): Batch & { segmentIds: Int32Array; rowWeight: Float32Array } => ({
    inputIds: Int32Array.from({ length: B * T }, (_, i) => 100 * k + i), labels: Int32Array.from({ length: B * T }, (_, i) => -i),
    attentionMask: Uint8Array.from({ length: B * T }, (_, i) => i % 2), segmentIds: Int32Array.from({ length: B * T }, (_, i) => 7 * i),
    rowWeight: Float32Array.from([0.5, 1, 1.5, 2]), batchSize: B, seqLen: T,
  });
  const source = (n = 2) => { let i = 0, restored: unknown = null; return { next: () => (i < n ? batch(i++) : null), state: () => ({ i, restored }), restore(s: unknown) { restored = s; } }; };
  const [r0, r1] = [0, 1].map((r) => rowShardedSource(source(), rank(r, 2)));
  const a = (await r0.next()) as ReturnType<typeof batch>, b = (await r1.next()) as ReturnType<typeof batch>;
  expect([a.batchSize, a.seqLen, b.batchSize]).toEqual([2, 3, 2]);
  expect(Array.from(a.inputIds)).toEqual([0, 1, 2, 3, 4, 5]);
  expect(Array.from(b.inputIds)).toEqual([6, 7, 8, 9, 10, 11]);
  expect(Array.from(b.labels)).toEqual([-6, -7, -8, -9, -10, -11]);
  expect(Array.from(b.attentionMask!)).toEqual([0, 1, 0, 1, 0, 1]);
  expect(Array.from(b.segmentIds)).toEqual([42, 49, 56, 63, 70, 77]);
  expect(Array.from(a.rowWeight)).toEqual([0.5, 1]);
  expect(Array.from(b.rowWeight)).toEqual([1.5, 2]);
  expect(Array.from((await r1.next())!.inputIds)).toEqual([106, 107, 108, 109, 110, 111]);
  expect(await r1.next()).toBeNull();
  expect(r0.state()).toEqual({ i: 1, restored: null });
  r0.restore({ at: 5 });
  expect(r0.state()).toEqual({ i: 1, restored: { at: 5 } });
  await expect(rowShardedSource(source(), rank(1, 3)).next()).rejects.toThrow(/batch size=4 is the global batch and must be divisible by the 3 ranks/);
  const src = source();
  expect(rowShardedSource(src, SINGLE_PROCESS)).toBe(src);
});

test('threads per rank: floor(T / ranks on the machine), T = threads, else STELLAR_NUM_THREADS, else the cores; a world of 1 keeps T', () => {
  const two = rank(1, 2);
  expect(threadsPerRank(0, two, { OMPI_COMM_WORLD_LOCAL_SIZE: '2' }, 8)).toBe(4);
  expect(threadsPerRank(0, two, { OMPI_COMM_WORLD_LOCAL_SIZE: '2', STELLAR_NUM_THREADS: '6' }, 8)).toBe(3);
  expect(threadsPerRank(5, two, { OMPI_COMM_WORLD_LOCAL_SIZE: '2', STELLAR_NUM_THREADS: '6' }, 8)).toBe(2);
  expect(threadsPerRank(0, rank(0, 4), { OMPI_COMM_WORLD_LOCAL_SIZE: '4' }, 2)).toBe(1);
  // 4 ranks over 2 machines: 2 per machine share its cores
  expect(threadsPerRank(0, rank(3, 4), { OMPI_COMM_WORLD_LOCAL_SIZE: '2' }, 8)).toBe(4);
  expect(threadsPerRank(0, SINGLE_PROCESS, { STELLAR_NUM_THREADS: '6' }, 8)).toBeNull();
  expect(threadsPerRank(3, SINGLE_PROCESS, {}, 8)).toBe(3);
});

test('dropout under data parallelism: rank 1 draws other masks than rank 0 for the same rows, and leaves the generator where rank 0 does', () => {
  const model = new StellarForCausalLM(makeConfig({ vocabSize: 16, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, hiddenDropout: 0.5 }), { seed: 1 });
  const T = 6;
  const batch: Batch = { inputIds: Int32Array.from({ length: 2 * T }, (_, i) => i % 16), labels: Int32Array.from({ length: 2 * T }, (_, i) => (i * 5) % 16), batchSize: 2, seqLen: T };
  const gen = model.model.generator;
  const start = gen.getState();
  const lossAs = (r: number, training = true) => {
    gen.setState(start);
    const s = perRankRandomness(causalLmLoss(), model, rank(r, 2))(model, batch, training);
    const v = s.loss.item();
    s.loss.dispose();
    return { v, after: gen.getState() };
  };
  const r0 = lossAs(0), r1 = lossAs(1), r1again = lossAs(1);
  expect(BigInt(r0.after.offset)).toBeGreaterThan(BigInt(start.offset));   // dropout did draw
  expect(r1.after).toEqual(r0.after);
  expect(r1.v).not.toBe(r0.v);
  expect(r1again.v).toBe(r1.v);
  // evaluation (no dropout) is untouched
  expect(lossAs(1, false).v).toBe(lossAs(0, false).v);
  model.dispose();
});

test('onMain in a world of 1 runs the work and passes its result and its error through; --help documents mpirun', async () => {
  expect(await onMain(SINGLE_PROCESS, async () => ({ dir: 'x' }))).toEqual({ dir: 'x' });
  await expect(onMain(SINGLE_PROCESS, () => { throw new Error('boom'); })).rejects.toThrow('boom');
  let help = '';
  expect(await main(['--help'], { out: (s) => { help += s; } })).toBe(0);
  expect(help).toMatch(/mpirun -np N stellar-train <stage>/);
  expect(help).toMatch(/train\.batch_size is the global batch/);
  expect(help).toMatch(/Threads per rank: max\(1, floor\(T \/ L\)\)/);
});

// --- mpirun -np 2 ------------------------------------------------------------------------------------

const np1Base = path.join(tmp, 'np1'), np2Base = path.join(tmp, 'np2');

beforeAll(() => {
  if (!usable) return;
  ok(run(null, [cli, 'tokenizer', `run_dir=${tmp}/tok`, `data.pretrain=[${text}]`, 'data.tokenizer_vocab=300']));
  tokDir = path.join(onlyRun(path.join(tmp, 'tok'), 'tokenizer'), 'final');
}, 60_000);

mpiTest('pretrain: 2 ranks with the same global batch match 1 process (losses and evals within 1e-5 relative, final weights within 1e-5); one run directory, written by rank 0 alone', () => {
  ok(run(null, pretrainArgs(np1Base, ['threads=1'])));
  const out = path.join(tmp, 'np2-output');
  // threads=2: one thread per rank on any machine, like the 1-process run, so that only the split differs
  const r = ok(run(2, pretrainArgs(np2Base, ['threads=2']), ['--output-filename', out]));
  const one = onlyRun(np1Base), two = onlyRun(np2Base);
  expect(r.stdout.match(/final model: /g)).toHaveLength(1);
  expect(r.stderr).toMatch(/data parallel: 2 ranks x 1 thread\(s\); each rank takes 4 of the 8 rows/);
  // the whole loss curve and both evaluations (rank 0 evaluates alone on the whole validation set)
  const m1 = metrics(one), m2 = metrics(two);
  expect(m2.filter((x) => 'loss' in x).map((x) => x.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  expect(m2.filter((x) => 'eval_loss' in x).map((x) => x.step)).toEqual([30, 60]);
  expectClose(m1, m2, 1e-5);
  expect(m2.map((x) => [x.tokens, x.target_tokens])).toEqual(m1.map((x) => [x.tokens, x.target_tokens]));
  // measured: 5e-7 after these 60 AdamW steps (losses: 6e-8 relative); float sums in another order, nothing more
  expect(maxWeightDiff(weights(path.join(one, 'final', 'model.safetensors')), weights(path.join(two, 'final', 'model.safetensors')))).toBeLessThan(1e-5);
  // rank 1 wrote nothing: one TensorBoard file (each writer names its own), each step logged once, the
  // same files as the 1-process run, and not a byte on rank 1's stdout/stderr
  const listing = (d: string) => fs.readdirSync(d).map((f) => f.replace(/^events\.out\.tfevents\..*/, 'events')).sort();
  expect(listing(two)).toEqual(listing(one));
  expect(fs.readdirSync(two).filter((f) => f.startsWith('events.out.tfevents'))).toHaveLength(1);
  expect(fs.readdirSync(path.join(two, 'checkpoints')).sort()).toEqual(['step-00000030', 'step-00000060']);
  const rank1 = path.join(out, '1', 'rank.1');
  for (const f of ['stdout', 'stderr']) expect(fs.existsSync(path.join(rank1, f)) ? fs.readFileSync(path.join(rank1, f), 'utf8') : '').toBe('');
  expect(fs.readFileSync(path.join(out, '1', 'rank.0', 'stderr'), 'utf8')).toMatch(/finished at step 60/);
}, 120_000);

mpiTest('lora from the pretrained model: 2 ranks match 1 process (losses, evals, adapter and merged weights within 1e-5)', () => {
  const init = path.join(onlyRun(np1Base), 'final');
  if (!fs.existsSync(init)) throw new Error('needs the 1-process pretrain run of the first test');
  // adapter dropout off: each rank draws masks for its rows only, so with dropout the ranks' masks differ from 1 process's
  const args = (runDir: string) => [cli, 'lora', `run_dir=${runDir}`, `init=${init}`, 'data.sft_per_task=20', 'train.steps=8', 'train.batch_size=4',
    'train.seq_len=48', 'train.eval_every=4', 'train.eval_batches=2', 'lora.dropout=0', 'train.tensorboard=false'];
  ok(run(null, [...args(path.join(tmp, 'lora1')), 'threads=1']));
  const r = ok(run(2, [...args(path.join(tmp, 'lora2')), 'threads=2']));
  expect(r.stdout.match(/final model: /g)).toHaveLength(1);
  const one = onlyRun(path.join(tmp, 'lora1'), 'lora'), two = onlyRun(path.join(tmp, 'lora2'), 'lora');
  expect(metrics(two).filter((x) => 'eval_loss' in x).map((x) => x.step)).toEqual([4, 8]);
  expectClose(metrics(one), metrics(two), 1e-5);
  for (const f of ['adapter/adapter_model.safetensors', 'final/model.safetensors']) {
    expect(maxWeightDiff(weights(path.join(one, f)), weights(path.join(two, f)))).toBeLessThan(1e-5);
  }
}, 120_000);

mpiTest('distill with the pretrained model as teacher: 2 ranks match 1 process (losses within 1e-5 relative, final weights within 1e-5)', () => {
  const teacher = path.join(onlyRun(np1Base), 'final');
  const args = (runDir: string) => [cli, 'distill', `run_dir=${runDir}`, `distill.teacher=${teacher}`, `data.pretrain=[${text}]`, 'model.dim=32', 'model.n_layers=1',
    'model.n_heads=2', 'model.ffn_dim=48', 'train.steps=6', 'train.batch_size=4', 'train.seq_len=32', 'train.tensorboard=false'];
  ok(run(null, [...args(path.join(tmp, 'distill1')), 'threads=1']));
  ok(run(2, [...args(path.join(tmp, 'distill2')), 'threads=2']));
  const one = onlyRun(path.join(tmp, 'distill1'), 'distill'), two = onlyRun(path.join(tmp, 'distill2'), 'distill');
  expect(metrics(two).filter((x) => 'loss' in x)).toHaveLength(6);
  expectClose(metrics(one), metrics(two), 1e-5);
  expect(maxWeightDiff(weights(path.join(one, 'final', 'model.safetensors')), weights(path.join(two, 'final', 'model.safetensors')))).toBeLessThan(1e-5);
}, 120_000);

mpiTest('pipeline under mpirun -np 2: rank 0 trains the tokenizer and evaluates, both ranks pretrain and fine-tune; one report, one run directory per stage', () => {
  const base = path.join(tmp, 'np2-pipeline');
  const r = ok(run(2, [cli, 'pipeline', `run_dir=${base}`, 'model.dim=32', 'model.n_layers=1', 'model.n_heads=2', 'model.n_kv_heads=1', 'model.ffn_dim=48',
    `data.pretrain=[${text}]`, 'data.tokenizer_vocab=300', 'data.sft_per_task=20', 'eval.samples=10', 'eval.max_new_tokens=4', 'train.tensorboard=false',
    'sft_train.tensorboard=false', 'train.steps=4', 'train.batch_size=4', 'train.seq_len=32', 'sft_train.steps=4', 'sft_train.batch_size=4', 'sft_train.seq_len=48', 'rlhf=none']));
  expect(r.stdout.match(/## Stellar pipeline report/g)).toHaveLength(1);
  expect(r.stdout).toMatch(/\| \*\*all\*\* \| \*\*\d+\.\d%\*\* \| \*\*\d+\.\d%\*\* \|/);
  const dir = onlyRun(base, 'pipeline');
  expect(fs.existsSync(path.join(dir, 'report.md'))).toBe(true);
  for (const stage of ['tokenizer', 'pretrain', 'sft']) expect(fs.existsSync(path.join(onlyRun(path.join(dir, 'stages'), stage), 'final'))).toBe(true);
  // the sft stage ran data-parallel on sft_train's global batch
  expect(r.stderr.match(/data parallel: 2 ranks x \d+ thread\(s\); each rank takes 2 of the 4 rows/g)).toHaveLength(2);
}, 120_000);

mpiTest('pretrain with dropout: a 2-rank run stopped with SIGUSR1 (forwarded by mpirun) resumes on both ranks with resume=latest and continues the uninterrupted 2-rank curve exactly', async () => {
  // dropout: the resumed ranks must also get back generator states that agree (rank 0's checkpoint)
  const drop = ['model.hidden_dropout=0.1'];
  const full = path.join(tmp, 'np2-dropout');
  ok(run(2, pretrainArgs(full, drop)));
  const base = path.join(tmp, 'np2-stopped');
  const stopped = await stopWhenTraining(pretrainArgs(base, drop), 'SIGUSR1');
  expect(stopped.stderr).toMatch(/SIGUSR1: finishing this step, saving a checkpoint/);
  expect(stopped.code).toBe(130);
  const dir = onlyRun(base);
  const ckpts = fs.readdirSync(path.join(dir, 'checkpoints'));
  const at = Math.max(...ckpts.map((c) => Number(c.slice(5))));
  if (!(at < STEPS)) throw new Error(`the run reached step ${at} before the signal took effect`);
  expect(fs.existsSync(path.join(dir, 'final'))).toBe(false);
  const resumed = ok(run(2, pretrainArgs(base, [...drop, 'resume=latest'])));
  expect(resumed.stderr.match(/resumed from \S+ at step \d+/g)).toHaveLength(1);
  expect(onlyRun(base)).toBe(dir);
  const want = curve(metrics(onlyRun(full)));
  expect(want).not.toEqual(curve(metrics(onlyRun(np2Base))));   // dropout did change the run
  expect(curve(metrics(dir))).toEqual(want);
}, 120_000);

// strace can watch a rank's file-system calls where ptrace is allowed (not in every container)
const strace = onPath('strace') && spawnSync('strace', ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=%file', '-o', '/dev/null', process.execPath, '-e', '0']).status === 0;
const straceTest = strace || !usable ? mpiTest : (name: string, fn: Body) => test.skip(`SKIPPED: strace missing or not permitted — ${name}`, fn);
/** Syscalls on a path that only read it; any other call naming a path under the run directory changes it. */
const READS = /^(openat|open|stat|lstat|newfstatat|statx|access|faccessat2?|readlinkat|readlink|getxattr|lgetxattr|chdir|execve|inotify_add_watch)$/;

straceTest('rank 1 (under strace) makes no file-system change under the run directory: no open for writing, mkdir, rename or unlink', () => {
  const base = path.join(tmp, 'np2-strace'), log = path.join(tmp, 'rank1.strace');
  const args = pretrainArgs(base, ['train.steps=10', 'train.eval_every=5', 'train.save_every=5']);
  // MPMD: rank 0 plain, rank 1 the same command under strace
  const r = spawnSync('mpirun', [...MPIRUN, '-np', '1', process.execPath, ...args, ':', '-np', '1', 'strace', '-f', '-qq', '--seccomp-bpf', '-e', 'trace=%file', '-o', log, process.execPath, ...args],
    { encoding: 'utf8', env, timeout: 120_000 });
  ok(r);
  const dir = onlyRun(base);
  expect(fs.existsSync(path.join(dir, 'final', 'model.safetensors'))).toBe(true);
  const calls = fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(base));
  // rank 1 did read the shards rank 0 wrote (so the trace does see its calls under the run directory)
  expect(calls.some((l) => /openat\(.*\/data\/.*O_RDONLY/.test(l))).toBe(true);
  const changes = calls.filter((l) => {
    const m = /^\d+\s+(\w+)\(/.exec(l);
    if (!m) return false;
    if (m[1] === 'openat' || m[1] === 'open') return /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(l);
    return !READS.test(m[1]);
  });
  expect(changes).toEqual([]);
}, 120_000);

mpiTest('Ctrl-C on mpirun (SIGINT; ranks get SIGTERM after odls_base_sigkill_timeout = 3 s, SIGKILL 3 s later): rank 0 saves the step, every rank exits, no final/', async () => {
  const base = path.join(tmp, 'np2-sigint');
  // mpirun's default of 1 s between SIGTERM and SIGKILL is enough here, but not on a loaded host
  const r = await stopWhenTraining(pretrainArgs(base, ['train.steps=100000', 'train.save_every=0']), 'SIGINT', ['--mca', 'odls_base_sigkill_timeout', '3']);
  expect(r.stderr).toMatch(/SIGTERM: finishing this step, saving a checkpoint/);
  expect(r.stderr).toMatch(/stopped \(signal\) at step \d+/);
  expect(r.stderr).not.toMatch(/signal 9|Killed/);
  expect(r.ms).toBeLessThan(30_000);
  const dir = onlyRun(base);
  const ckpts = fs.readdirSync(path.join(dir, 'checkpoints')).filter((d) => d.startsWith('step-'));
  expect(ckpts).toHaveLength(1);
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', ckpts[0], 'trainer_state.json'), 'utf8'));
  expect(state.stoppedBy).toBe('signal');
  expect(fs.existsSync(path.join(dir, 'final'))).toBe(false);
}, 120_000);

mpiTest('a global train.batch_size that does not split over the ranks is refused once, naming the key, before any run directory exists', () => {
  const base = path.join(tmp, 'np2-odd');
  const r = run(2, pretrainArgs(base, ['train.batch_size=5']));
  expect(r.status).not.toBe(0);
  expect(r.stderr.match(/config error: train\.batch_size=5 is the global batch .* must be divisible by the 2 ranks/g)).toHaveLength(1);
  expect(fs.existsSync(base)).toBe(false);
}, 120_000);

mpiTest('a failure on rank 0 while the other rank waits for it (resume=latest with nothing to resume) is reported once, naming rank 0, and ends both ranks', () => {
  const base = path.join(tmp, 'np2-nothing');
  const r = run(2, pretrainArgs(base, ['resume=latest']));
  expect(r.status).not.toBe(0);
  expect(r.stderr.match(/error \(rank \d of 2\)/g)).toEqual(['error (rank 0 of 2)']);
  expect(r.stderr).toMatch(/error \(rank 0 of 2\): resume=latest: no run of "pretrain" with checkpoints/);
}, 120_000);
