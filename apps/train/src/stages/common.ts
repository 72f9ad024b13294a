// What every training stage shares: the run directory with its resolved config, the trainer wired to
// the run logger (progress bar, metrics.jsonl, TensorBoard, plots), and the final/ model directory
// (HF layout + tokenizer files).
import fs from 'node:fs';
import path from 'node:path';
import { writeResolvedConfig, type Composed } from '@stellar/config';
import { StellarForCausalLM, fromPretrained, savePretrained } from '@stellar/nn';
import { setNumThreads } from '@stellar/tensor';
import { loadTokenizer, saveTokenizer, type Tokenizer } from '@stellar/tokenizer';
import { Trainer, WeightEma, runLogger, type BatchSource, type LossFn, type TrainResult } from '@stellar/train';
import type { Module } from '@stellar/nn';
import { makeOptimizer } from '../optimizer';
import { resolveRunDir } from '../run-dir';
import type { RunConfig } from '../schema';

export interface StageContext {
  cfg: RunConfig;
  composed: Pick<Composed, 'choices' | 'overrides'>;
  /** Where messages go (stderr by default; tests capture it). */
  say: (line: string) => void;
}

export interface StageRun { dir: string; resumed: boolean }

export function openRun(ctx: StageContext, stage: string): StageRun {
  const { cfg } = ctx;
  if (cfg.threads > 0) setNumThreads(cfg.threads);
  const run = resolveRunDir(cfg.run_dir, stage, cfg.name, cfg.resume);
  writeResolvedConfig(run.dir, { ...cfg, stage }, ctx.composed);
  ctx.say(`${run.resumed ? 'resuming' : 'run'} ${stage}: ${run.dir}`);
  return run;
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
  const trainer = new Trainer({
    model: a.model, optimizer, lossFn: a.lossFn, data: a.data, evalData: a.evalData, runDir: a.run.dir,
    maxSteps: t.steps, peakLr: t.lr, gradAccum: t.grad_accum, clipGradNorm: t.clip, ema,
    schedule: { name: t.schedule, warmupSteps: Math.min(t.warmup_steps, t.steps), minLrRatio: t.min_lr_ratio },
    evalEvery: t.eval_every, evalBatches: t.eval_batches, saveEvery: t.save_every, keepLast: t.keep_last,
    logger: runLogger(a.run.dir, { tensorboard: t.tensorboard }),
    resume: a.run.resumed,
  });
  try {
    const r = await trainer.run();
    a.ctx.say(`${r.stoppedBy === 'max-steps' ? 'finished' : `stopped (${r.stoppedBy})`} at step ${r.step}; checkpoint ${r.checkpoint}`);
    return r;
  } finally {
    optimizer.dispose();
    ema?.dispose();
  }
}

/** final/: the model in HF layout plus the tokenizer files, loadable by fromPretrained and transformers. */
export function saveFinal(run: StageRun, model: StellarForCausalLM, tok: Tokenizer, sub = 'final'): string {
  const dir = path.join(run.dir, sub);
  savePretrained(model, dir);
  saveTokenizer(tok, dir);
  return dir;
}
