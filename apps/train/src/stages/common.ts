// What every training stage shares: the run directory with its resolved config, the trainer wired to
// the run logger (progress bar, metrics.jsonl, TensorBoard, plots), and the final/ model directory
// (HF layout + tokenizer files). Under mpirun the same calls run data-parallel: rank 0 picks the run
// directory and writes every file, each rank trains on its rows of each global batch.
import fs from 'node:fs';
import path from 'node:path';
import { writeResolvedConfig, type Composed } from '@stellar/config';
import { StellarForCausalLM, fromPretrained, savePretrained } from '@stellar/nn';
import { numThreads, setNumThreads } from '@stellar/tensor';
import { loadTokenizer, saveTokenizer, type Tokenizer } from '@stellar/tokenizer';
import {
  SINGLE_PROCESS, Trainer, WeightEma, broadcastParameters, onMainSync, perRankBatch, rowShardedSource, runLogger, skipFinalizeAtExit, trainerSync,
  type BatchSource, type DistributedContext, type LossFn, type TrainResult,
} from '@stellar/train';
import type { Module } from '@stellar/nn';
import { perRankRandomness, threadsPerRank } from '../distributed';
import { makeOptimizer } from '../optimizer';
import { resolveRunDir } from '../run-dir';
import type { RunConfig } from '../schema';

export interface StageContext {
  cfg: RunConfig;
  composed: Pick<Composed, 'choices' | 'overrides'>;
  /** Where messages go (stderr by default; tests capture it). */
  say: (line: string) => void;
  /** The data-parallel world (mpirun); absent = one process. */
  dist?: DistributedContext;
}

export interface StageRun { dir: string; resumed: boolean; dist: DistributedContext }

/** The stage's run directory: rank 0 resolves it (a new timestamp or `resume`) and tells the others. */
export function openRun(ctx: StageContext, stage: string): StageRun {
  const { cfg } = ctx;
  const dist = ctx.dist ?? SINGLE_PROCESS;
  const threads = threadsPerRank(cfg.threads, dist);
  if (threads !== null) setNumThreads(threads);
  const run = onMainSync(dist, () => {
    const r = resolveRunDir(cfg.run_dir, stage, cfg.name, cfg.resume);
    writeResolvedConfig(r.dir, { ...cfg, stage }, ctx.composed);
    return r;
  });
  ctx.say(`${run.resumed ? 'resuming' : 'run'} ${stage}: ${run.dir}`);
  return { ...run, dist };
}

/** The tokenizer of a stage: cfg.tokenizer, else the one saved next to the init model. */
export function stageTokenizer(cfg: RunConfig, fallbackDir?: string): Tokenizer {
  const dir = cfg.tokenizer || fallbackDir || cfg.init;
  if (!dir) throw new Error('no tokenizer: set tokenizer=<dir> (or init=<model dir> that holds tokenizer.json)');
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) throw new Error(`tokenizer: ${dir} has no tokenizer.json`);
  return loadTokenizer(dir);
}

export function initModel(dir: string): StellarForCausalLM {
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new Error(`init=${dir}: not a model directory (no config.json)`);
  return fromPretrained(dir);
}

export interface TrainArgs {
  ctx: StageContext;
  run: StageRun;
  model: Module;
  lossFn: LossFn;
  data: BatchSource & { close?(): void };
  evalData?: () => BatchSource & { close?(): void };
}

export async function trainStage(a: TrainArgs): Promise<TrainResult> {
  const t = a.ctx.cfg.train;
  const optimizer = makeOptimizer(t, a.model);
  const ema = t.ema_decay > 0 ? new WeightEma(a.model, t.ema_decay) : undefined;
  const dist = a.run.dist;
  const rows = perRankBatch(t.batch_size, dist, 'train.batch_size');
  if (dist.worldSize > 1) a.ctx.say(`data parallel: ${dist.worldSize} ranks x ${numThreads()} thread(s); each rank takes ${rows} of the ${t.batch_size} rows of every micro-batch`);
  // identical starting weights whatever each rank computed (a checkpoint, if resuming, loads on every rank after this)
  broadcastParameters(a.model, dist);
  const trainer = new Trainer({
    model: a.model, optimizer, lossFn: perRankRandomness(a.lossFn, a.model, dist), data: rowShardedSource(a.data, dist), runDir: a.run.dir,
    // rank 0 evaluates alone on the whole validation set: the 1-rank numbers, while the others wait at the next step
    evalData: dist.isMain ? a.evalData : undefined,
    sync: dist.worldSize > 1 ? trainerSync(dist) : undefined,
    maxSteps: t.steps, peakLr: t.lr, gradAccum: t.grad_accum, clipGradNorm: t.clip, precision: t.precision, ema,
    schedule: { name: t.schedule, warmupSteps: Math.min(t.warmup_steps, t.steps), minLrRatio: t.min_lr_ratio },
    evalEvery: t.eval_every, evalBatches: t.eval_batches, saveEvery: t.save_every, keepLast: t.keep_last,
    logger: dist.isMain ? runLogger(a.run.dir, { tensorboard: t.tensorboard }) : undefined,
    resume: a.run.resumed,
  });
  const signals = stopSignals(trainer, dist, a.ctx.say);
  try {
    const r = await trainer.run();
    a.ctx.say(`${r.stoppedBy === 'max-steps' ? 'finished' : `stopped (${r.stoppedBy})`} at step ${r.step}; checkpoint ${r.checkpoint}`);
    return r;
  } finally {
    signals.off();
    optimizer.dispose();
    ema?.dispose();
  }
}

/**
 * Signals besides the trainer's own SIGINT/SIGTERM handling. SIGUSR1 also stops after the step with a
 * checkpoint: mpirun forwards it to every rank with no kill deadline (on SIGINT/SIGTERM mpirun sends
 * the ranks SIGTERM and SIGKILL odls_base_sigkill_timeout seconds apart). Under MPI a second
 * SIGINT/SIGTERM exits at once, so that rank must not wait in MPI_Finalize for ranks that still compute.
 */
function stopSignals(trainer: Trainer, dist: DistributedContext, say: (line: string) => void): { off(): void } {
  let seen = 0;
  const usr1 = () => { say('SIGUSR1: finishing this step, saving a checkpoint, then stopping'); trainer.requestStop('SIGUSR1'); };
  // registered before the trainer's own listeners, so this runs before a second signal's process.exit
  const count = () => { if (++seen >= 2 && dist.worldSize > 1) skipFinalizeAtExit(); };
  process.on('SIGUSR1', usr1);
  process.on('SIGINT', count);
  process.on('SIGTERM', count);
  return { off() { process.off('SIGUSR1', usr1); process.off('SIGINT', count); process.off('SIGTERM', count); } };
}

/** final/: the model in HF layout plus the tokenizer files, loadable by fromPretrained and transformers.
 *  Only rank 0 writes it; every rank gets its path. */
export function saveFinal(run: StageRun, model: StellarForCausalLM, tok: Tokenizer, sub = 'final'): string {
  const dir = path.join(run.dir, sub);
  if (!run.dist.isMain) return dir;
  savePretrained(model, dir);
  saveTokenizer(tok, dir);
  return dir;
}
