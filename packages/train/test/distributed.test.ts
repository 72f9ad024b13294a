// Data parallelism: the world-of-1 path needs no MPI and changes nothing; under `mpirun -np 2` the
// same global batch gives the 1-rank losses and weights, the ranks stay identical, and resume works.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig } from '@stellar/nn';
import {
  AdamW, SINGLE_PROCESS, Trainer, allReduceGradients, causalLmLoss, initDistributed, mpi, perRankAccum, shardedSource, trainerSync,
  type Batch, type DistributedContext, type TrainLogger,
} from '../src';
import { MemorySource, makeBatches } from './util/memory-source';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-dist-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const quiet: TrainLogger = { step() {}, eval() {}, message() {}, close() {} };
const runner = path.join(__dirname, 'fixtures', 'distributed', 'train-runner.cjs');

describe('world of 1 (no mpirun)', () => {
  test('initDistributed is a world of size 1 and never initializes MPI', () => {
    const ctx = initDistributed();
    expect(ctx).toEqual(SINGLE_PROCESS);
    expect(mpi.mpiState()).toMatchObject({ launched: false, initialized: false, rank: 0, worldSize: 1 });
  });

  test('collectives are the identity: float32 sums, exact float64 sums, broadcast, barrier', () => {
    const f = Float32Array.from([1.5, -2, 3e-7]);
    mpi.allreduceSum(f);
    expect(Array.from(f)).toEqual(Array.from(Float32Array.from([1.5, -2, 3e-7])));
    expect(Array.from(mpi.allreduceSumF64([0.1, 1e300, -7]))).toEqual([0.1, 1e300, -7]);
    const b = Float32Array.from([4, 5]);
    mpi.broadcast(b, 0);
    expect(Array.from(b)).toEqual([4, 5]);
    expect(() => mpi.barrier()).not.toThrow();
  });

  test('allReduceGradients scales in place, fills missing gradients with zeros, and rejects non-float32', () => {
    const model = new StellarForCausalLM(makeConfig({ vocabSize: 16, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1 }), { seed: 1 });
    const ps = model.parameters();
    ps[0].data.grad = Tensor.fromArray(new Float32Array(ps[0].data.size).fill(3), ps[0].shape).keep();
    allReduceGradients(ps, SINGLE_PROCESS, 0.5);
    expect(Array.from(ps[0].data.grad!.data() as Float32Array).every((v) => v === 1.5)).toBe(true);
    expect(Array.from(ps[1].data.grad!.data() as Float32Array).every((v) => v === 0)).toBe(true);
    expect(() => mpi.allreduceSumTensors([Tensor.fromArray([1, 2], [2], { dtype: 'int32' })])).toThrow(/float32/);
    model.zeroGrad();
  });

  test('shardedSource: the ranks split each group of micro-batches and keep the same cursor', async () => {
    const batches = makeBatches(6, 1, 4, 8);
    const ranks = [0, 1].map((rank) => shardedSource(new MemorySource(batches, 1), { rank, worldSize: 2, isMain: rank === 0, usesMpi: true }));
    const seen: Batch[][] = [[], []];
    for (let i = 0; i < 3; i++) for (const r of [0, 1]) seen[r].push((await ranks[r].next())!);
    expect(seen[0]).toEqual([batches[0], batches[2], batches[4]]);
    expect(seen[1]).toEqual([batches[1], batches[3], batches[5]]);
    expect(ranks[0].state()).toEqual(ranks[1].state());
    expect(await ranks[0].next()).toBeNull();
    expect(shardedSource(new MemorySource(batches), SINGLE_PROCESS)).toBeInstanceOf(MemorySource);
    expect(perRankAccum(4, { ...SINGLE_PROCESS, worldSize: 2 })).toBe(2);
    expect(() => perRankAccum(3, { ...SINGLE_PROCESS, worldSize: 2 })).toThrow(/cannot be split evenly over 2 ranks/);
  });

  test('a Trainer with the sync hook of a world of 1 reproduces the plain Trainer exactly', async () => {
    const run = (sync?: ReturnType<typeof trainerSync>) => {
      const model = new StellarForCausalLM(makeConfig({ vocabSize: 32, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2 }), { seed: 3 });
      const optimizer = new AdamW(model.namedParameters(), { lr: 1e-2 });
      return new Trainer({ model, optimizer, lossFn: causalLmLoss(), data: new MemorySource(makeBatches(4, 2, 8, 32, 2)), peakLr: 1e-2, maxSteps: 3, gradAccum: 2,
        runDir: path.join(tmp, sync ? 'sync1' : 'plain'), logger: quiet, handleSignals: false, sync }).run();
    };
    const ctx: DistributedContext = SINGLE_PROCESS;
    expect((await run(trainerSync(ctx))).losses).toEqual((await run()).losses);
  });
});

// --- two ranks through mpirun ------------------------------------------------------------------

function findOnPath(exe: string): string | null {
  for (const d of (process.env.PATH ?? '').split(':')) if (d && fs.existsSync(path.join(d, exe))) return path.join(d, exe);
  return null;
}

interface RankResult { rank: number; worldSize: number; usesMpi: boolean; checkpoint: string | null; step: number; stoppedBy: string; losses: number[]; stepMs: number[]; weights: Record<string, number[]> }

function launch(np: number | null, outDir: string, steps: number, flags: string[] = []): RankResult[] {
  const args = [runner, outDir, '--accum=4', `--steps=${steps}`, ...flags];
  // one compute thread per rank: two ranks share the machine's cores; no binding so ranks can move
  const env = { ...process.env, STELLAR_NUM_THREADS: np ? '1' : process.env.STELLAR_NUM_THREADS, OMPI_MCA_btl_vader_single_copy_mechanism: 'none' };
  const r = np === null
    ? spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000, env })
    : spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '--bind-to', 'none', '-np', String(np), process.execPath, ...args], { encoding: 'utf8', timeout: 120_000, env });
  if (r.status !== 0) throw new Error(`runner failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return Array.from({ length: np ?? 1 }, (_, k) => JSON.parse(fs.readFileSync(path.join(outDir, `rank-${k}.json`), 'utf8')) as RankResult);
}

function maxWeightDiff(a: RankResult, b: RankResult): number {
  let m = 0;
  for (const [n, w] of Object.entries(a.weights)) {
    expect(b.weights[n]).toHaveLength(w.length);
    w.forEach((v, i) => { m = Math.max(m, Math.abs(v - b.weights[n][i])); });
  }
  return m;
}

const mpirun = findOnPath('mpirun');
const mpiTest = mpirun && mpi.mpiAvailable() ? test : test.skip;
const mpiName = (name: string) => (mpirun ? (mpi.mpiAvailable() ? name : `SKIPPED: libmpi.so not loadable — ${name}`) : `SKIPPED: mpirun not found — ${name}`);

describe('mpirun -np 2', () => {
  let single: RankResult;
  beforeAll(() => { if (mpirun && mpi.mpiAvailable()) [single] = launch(null, path.join(tmp, 'np1'), 5); }, 120_000);

  mpiTest(mpiName('2 ranks with the same global batch match 1 rank (losses and weights within 1e-5); the ranks stay identical'), () => {
    expect(single.worldSize).toBe(1);
    expect(single.usesMpi).toBe(false);
    const [r0, r1] = launch(2, path.join(tmp, 'np2'), 5);
    expect([r0.worldSize, r1.worldSize, r0.usesMpi]).toEqual([2, 2, true]);
    r0.losses.forEach((l, i) => expect(Math.abs(l - single.losses[i])).toBeLessThan(1e-5));
    expect(r0.losses).toHaveLength(5);
    expect(r1.losses).toEqual(r0.losses);
    expect(maxWeightDiff(single, r0)).toBeLessThan(1e-5);
    expect(maxWeightDiff(r0, r1)).toBe(0);   // same summed gradients on every rank: bit-identical weights
    // only rank 0 writes checkpoints
    expect(r0.checkpoint).toMatch(/step-00000005$/);
    expect(r1.checkpoint).toBeNull();
  }, 120_000);

  mpiTest(mpiName('2 ranks stopped at step 3 resume from rank 0\'s checkpoint and continue the 1-rank curve'), () => {
    const dir = path.join(tmp, 'np2-resume');
    const first = launch(2, dir, 3);
    const second = launch(2, dir, 5, ['--resume']);
    const losses = [...first[0].losses, ...second[0].losses];
    expect(losses).toHaveLength(5);
    losses.forEach((l, i) => expect(Math.abs(l - single.losses[i])).toBeLessThan(1e-5));
    expect(second[1].losses).toEqual(second[0].losses);
    expect(maxWeightDiff(single, second[0])).toBeLessThan(1e-5);
    expect(maxWeightDiff(second[0], second[1])).toBe(0);
  }, 120_000);

  mpiTest(mpiName('a stop request seen by one rank only stops every rank after the same step, with rank 0\'s checkpoint'), () => {
    const ranks = launch(2, path.join(tmp, 'np2-stop'), 5, ['--stopat=2']);
    for (const r of ranks) expect([r.stoppedBy, r.step, r.losses.length]).toEqual(['signal', 2, 2]);
    expect(ranks[0].checkpoint).toMatch(/step-00000002$/);
    ranks[0].losses.forEach((l, i) => expect(Math.abs(l - single.losses[i])).toBeLessThan(1e-5));
  }, 120_000);

  mpiTest(mpiName('SIGTERM to one rank only: both ranks stop after the same step and rank 0 saves it'), async () => {
    const dir = path.join(tmp, 'np2-sigterm');
    const p = spawn('mpirun', ['--allow-run-as-root', '--oversubscribe', '--bind-to', 'none', '-np', '2', process.execPath, runner, dir, '--steps=100000', '--signals'],
      { env: { ...process.env, STELLAR_NUM_THREADS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise<number | null>((resolve) => p.on('exit', resolve));
    try {
      const pidFile = path.join(dir, 'pid-1');
      for (let t = 0; !fs.existsSync(pidFile) && t < 600; t++) await new Promise((r) => setTimeout(r, 100));
      process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');   // mpirun takes its ranks down with it
    }
    const ranks = [0, 1].map((k) => JSON.parse(fs.readFileSync(path.join(dir, `rank-${k}.json`), 'utf8')) as RankResult);
    expect(stderr).not.toMatch(/error/i);
    expect(ranks.map((r) => r.stoppedBy)).toEqual(['signal', 'signal']);
    expect(ranks[1].step).toBe(ranks[0].step);
    expect(ranks[0].step).toBeGreaterThanOrEqual(2);
    expect(ranks[0].checkpoint).toMatch(new RegExp(`step-${String(ranks[0].step).padStart(8, '0')}$`));
  }, 120_000);
});
