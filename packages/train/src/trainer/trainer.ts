// The training loop every stage plugs into: gradient accumulation with token-weighted losses, lr
// schedule, global-norm clipping, a NaN/Inf guard, weight EMA, periodic evaluation (token-weighted
// loss and perplexity), atomic checkpoints with exact resume, and a clean stop on SIGINT/SIGTERM.
import { Generator, autocast, mul, noGrad, tidy } from '@stellar/tensor';
import type { Module } from '@stellar/nn';
import type { Optimizer } from '../optim/optimizer';
import { lrMultiplier, type ScheduleOptions } from '../optim/schedule';
import { clipGradNorm } from '../optim/clip';
import type { WeightEma } from '../optim/ema';
import { countTargets, type Batch, type BatchSource, type LossFn } from './types';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { consoleLogger, type TrainLogger } from './logger';
import type { TrainerSync } from '../distributed/grad-sync';
import path from 'node:path';

export interface TrainerOptions {
  model: Module;
  optimizer: Optimizer;
  lossFn: LossFn;
  data: BatchSource & { close?(): void | Promise<void> };
  /** A fresh validation source for each evaluation (read to its end, or `evalBatches` batches). */
  evalData?: () => BatchSource & { close?(): void | Promise<void> };
  runDir: string;
  maxSteps: number;
  peakLr: number;
  schedule?: Omit<ScheduleOptions, 'totalSteps'>;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  /** Global gradient-norm clip; 0 disables (default 1.0). */
  clipGradNorm?: number;
  evalEvery?: number;          // 0 = only at the end
  evalBatches?: number;        // cap per evaluation (default: the whole source)
  saveEvery?: number;          // 0 = only at the end / on stop
  keepLast?: number;           // checkpoints kept (default 3)
  /** Consecutive non-finite steps tolerated (skipped) before the run stops with a checkpoint (default 5). */
  maxBadSteps?: number;
  ema?: WeightEma;
  /** Generators whose state is checkpointed (dropout etc.); default: the model's `generator` if it has one. */
  generators?: Generator[];
  logger?: TrainLogger;
  /** Resume from the latest checkpoint in runDir (true) or a given checkpoint directory. */
  resume?: boolean | string;
  /** Install SIGINT/SIGTERM handlers that stop after the current step with a checkpoint (default true). */
  handleSignals?: boolean;
  /** 'bf16': micro-batch forwards (and eval) run under autocast('bfloat16'), so the matmuls compute
   *  in bf16 with fp32 accumulation; weights, gradients and optimizer state stay fp32 (default 'fp32'). */
  precision?: 'fp32' | 'bf16';
  /** Data parallel (`trainerSync(initDistributed())`): token counts, losses and gradients are summed
   *  over ranks before clipping; only the main rank logs and writes checkpoints. */
  sync?: TrainerSync;
}

export interface EvalResult { step: number; loss: number; perplexity: number; tokens: number }

export interface TrainResult {
  step: number;
  stoppedBy: 'max-steps' | 'end-of-data' | 'signal' | 'non-finite';
  losses: { step: number; loss: number }[];
  evals: EvalResult[];
  checkpoint: string | null;
}

/** What ranks other than the main one log: nothing. */
const silentLogger: TrainLogger = { step() {}, eval() {}, message() {}, close() {} };

/** Finds generators on a model tree (LlamaModel keeps one for dropout and router noise). */
function findGenerators(m: Module): Generator[] {
  const out: Generator[] = [];
  for (const [, sub] of m.namedModules()) {
    const g = (sub as unknown as { generator?: unknown }).generator;
    if (g instanceof Generator && !out.includes(g)) out.push(g);
  }
  return out;
}

export class Trainer {
  private step = 0;
  private stopRequested: string | null = null;
  private readonly gens: Generator[];
  private readonly log: TrainLogger;
  private readonly ckptDir: string;

  private readonly computeDtype: 'bfloat16' | null;

  constructor(private readonly o: TrainerOptions) {
    if (!(Number.isInteger(o.maxSteps) && o.maxSteps > 0)) throw new Error(`Trainer: maxSteps must be a positive integer, got ${o.maxSteps}`);
    const precision = o.precision ?? 'fp32';
    if (precision !== 'fp32' && precision !== 'bf16') throw new Error(`Trainer: precision must be 'fp32' or 'bf16', got ${String(precision)}`);
    this.computeDtype = precision === 'bf16' ? 'bfloat16' : null;
    this.gens = o.generators ?? findGenerators(o.model);
    this.log = o.sync && !o.sync.isMain ? silentLogger : o.logger ?? consoleLogger();
    this.ckptDir = path.join(o.runDir, 'checkpoints');
  }

  /** Asks the loop to stop after the current step (what the signal handlers call). */
  requestStop(reason: string): void { this.stopRequested = reason; }

  private save(extra: Record<string, unknown> = {}): string | null {
    const o = this.o;
    if (o.sync && !o.sync.isMain) return null;
    const opt = o.optimizer.state();
    const dir = saveCheckpoint(this.ckptDir, this.step, {
      model: o.model.stateDict(),
      optimizer: opt.tensors,
      state: {
        optimizer: opt.meta,
        generators: this.gens.map((g) => g.getState()),
        data: o.data.state(),
        ema: o.ema ? true : undefined,
        ...extra,
      },
    }, o.keepLast ?? 3);
    if (o.ema) saveCheckpoint(path.join(this.ckptDir, 'ema'), this.step, { model: o.ema.stateDict(), optimizer: new Map(), state: {} }, 1);
    return dir;
  }

  private restore(dir: string): void {
    const c = loadCheckpoint(dir);
    try {
      this.o.model.loadStateDict(c.model);
      this.o.optimizer.loadState({ tensors: c.optimizer, meta: c.state.optimizer as Record<string, unknown> });
      const gs = (c.state.generators ?? []) as ReturnType<Generator['getState']>[];
      if (gs.length !== this.gens.length) throw new Error(`checkpoint ${dir} has ${gs.length} generator states, the model has ${this.gens.length}`);
      this.gens.forEach((g, i) => g.setState(gs[i]));
      this.o.data.restore(c.state.data);
      this.step = Number(c.state.step);
    } finally {
      for (const t of [...c.model.values(), ...c.optimizer.values()]) t.dispose();
    }
  }

  /** Token-weighted mean loss and perplexity over the validation source. */
  async evaluate(): Promise<EvalResult | null> {
    if (!this.o.evalData) return null;
    const src = this.o.evalData();
    const wasTraining = this.o.model.training;
    this.o.model.eval();
    let sum = 0, tokens = 0, n = 0;
    try {
      for (let b = await src.next(); b; b = await src.next()) {
        // noGrad: a graph recorded here would keep every activation alive (nothing runs backward on it)
        const r = noGrad(() => tidy(() => { const s = autocast(this.computeDtype, () => this.o.lossFn(this.o.model, b!, false)); return { l: s.loss.item(), t: s.tokens }; }));
        sum += r.l * r.t; tokens += r.t;
        if (++n === this.o.evalBatches) break;
      }
    } finally {
      this.o.model.train(wasTraining);
      await src.close?.();
    }
    const loss = tokens ? sum / tokens : NaN;
    return { step: this.step, loss, perplexity: Math.exp(loss), tokens };
  }

  async run(): Promise<TrainResult> {
    const o = this.o;
    if (o.resume) {
      const dir = typeof o.resume === 'string' ? o.resume : latestCheckpoint(this.ckptDir);
      if (dir) { this.restore(dir); this.log.message(`resumed from ${dir} at step ${this.step}`); }
      else this.log.message('no checkpoint to resume from: starting at step 0');
    }
    const onSignal = (sig: string) => () => {
      if (this.stopRequested) { this.log.message(`${sig} again: exiting without saving`); process.exit(130); }
      this.log.message(`${sig}: finishing this step, saving a checkpoint, then stopping (press again to quit at once)`);
      this.requestStop(sig);
    };
    const handlers: [NodeJS.Signals, () => void][] = (o.handleSignals ?? true) ? [['SIGINT', onSignal('SIGINT')], ['SIGTERM', onSignal('SIGTERM')]] : [];
    for (const [s, h] of handlers) process.on(s, h);
    const accum = o.gradAccum ?? 1, clip = o.clipGradNorm ?? 1.0, maxBad = o.maxBadSteps ?? 5;
    const sched: ScheduleOptions = { name: 'constant', ...o.schedule, totalSteps: o.maxSteps };
    const result: TrainResult = { step: this.step, stoppedBy: 'max-steps', losses: [], evals: [], checkpoint: null };
    let bad = 0;
    const t0 = Date.now();
    try {
      o.model.train();
      while (this.step < o.maxSteps) {
        // a turn of the event loop per step: signal handlers (and worker messages) run even when the
        // data source answers synchronously
        await new Promise<void>((r) => setImmediate(r));
        const batches: Batch[] = [];
        for (let i = 0; i < accum; i++) {
          const b = await o.data.next();
          if (!b) break;
          batches.push(b);
        }
        if (batches.length < accum) { result.stoppedBy = 'end-of-data'; break; }
        o.optimizer.lr = o.peakLr * lrMultiplier(this.step, sched);
        // token-weighted accumulation: the step's loss is the mean over every target token of all micro-batches
        const counts = batches.map(countTargets);
        let tokens = batches.reduce((a, b) => a + b.batchSize * b.seqLen, 0);
        let total = counts.reduce((a, b) => a + b, 0);
        // data parallel: every rank weights its micro-batches by the global count, so the summed gradients equal one rank's
        if (o.sync) [total, tokens] = o.sync.sum([total, tokens]);
        total = total || 1;
        let lossSum = 0;
        const metrics: Record<string, number> = {};
        o.model.zeroGrad();
        for (let i = 0; i < batches.length; i++) {
          tidy(() => {
            // forward under the run's precision; backward outside it (each op recorded its own mode)
            const s = autocast(this.computeDtype, () => o.lossFn(o.model, batches[i], true));
            const w = s.tokens > 0 ? s.tokens / total : 0;
            lossSum += s.loss.item() * w;
            for (const [k, v] of Object.entries(s.metrics ?? {})) metrics[k] = (metrics[k] ?? 0) + v / batches.length;
            if (w > 0) mul(s.loss, w).backward();
          });
        }
        const params = o.model.parameters().filter((p) => p.data.requiresGrad);
        if (o.sync) {
          o.sync.allReduceGradients(params);
          const keys = Object.keys(metrics).sort();
          const sums = o.sync.sum([lossSum, ...keys.map((k) => metrics[k])]);
          lossSum = sums[0];
          keys.forEach((k, i) => { metrics[k] = sums[i + 1] / o.sync!.worldSize; });
        }
        const norm = clip > 0 ? clipGradNorm(params, clip) : NaN;
        if (!Number.isFinite(lossSum) || (clip > 0 && !Number.isFinite(norm))) {
          o.model.zeroGrad();
          bad++;
          this.log.message(`step ${this.step + 1}: non-finite loss or gradient (loss ${lossSum}, grad norm ${norm}); step skipped (${bad}/${maxBad})`);
          if (bad >= maxBad) { result.stoppedBy = 'non-finite'; break; }
          continue;
        }
        bad = 0;
        o.optimizer.step();
        o.ema?.update();
        this.step++;
        result.losses.push({ step: this.step, loss: lossSum });
        this.log.step({ step: this.step, maxSteps: o.maxSteps, loss: lossSum, lr: o.optimizer.lr, gradNorm: norm, tokens, targetTokens: total, elapsedMs: Date.now() - t0, metrics });
        if (o.evalEvery && this.step % o.evalEvery === 0 && this.step < o.maxSteps) {
          const e = await this.evaluate();
          if (e) { result.evals.push(e); this.log.eval(e); }
        }
        if (o.saveEvery && this.step % o.saveEvery === 0 && this.step < o.maxSteps) result.checkpoint = this.save();
        // ranks see a signal at different moments: all stop after the same step or the others would wait forever
        const stop = o.sync ? o.sync.sum([this.stopRequested ? 1 : 0])[0] > 0 : Boolean(this.stopRequested);
        if (stop) { result.stoppedBy = 'signal'; break; }
      }
      if (result.stoppedBy !== 'signal' && result.stoppedBy !== 'non-finite') {
        const e = await this.evaluate();
        if (e) { result.evals.push(e); this.log.eval(e); }
      }
      result.checkpoint = this.save({ stoppedBy: result.stoppedBy });
      result.step = this.step;
      return result;
    } finally {
      for (const [s, h] of handlers) process.off(s, h);
      await o.data.close?.();
      this.log.close(result);
    }
  }
}
