// The outer loop of the ppo and grpo stages: one loop iteration after another with the run logger
// (progress bar, metrics.jsonl, TensorBoard), atomic checkpoints of the loop's state() (weights,
// optimizer, prompt cursor, KL controller, iteration) through the Trainer's checkpoint helpers, exact
// resume from the newest one, and a clean stop with a checkpoint on SIGINT/SIGTERM (a second one quits).
import path from 'node:path';
import { latestCheckpoint, loadCheckpoint, runLogger, saveCheckpoint, type RlLoopState } from '@stellar/train';
import type { Tensor } from '@stellar/tensor';
import type { StageContext, StageRun } from '../stages/common';

export interface RlLoop<S> { readonly step: number; run(): S; state(): RlLoopState; restore(s: RlLoopState): void }

export interface RlLoopRun<S> {
  ctx: StageContext;
  run: StageRun;
  loop: RlLoop<S>;
  /** The iteration's statistics as a loss (the progress bar's) and named scalars for metrics.jsonl. */
  scalars(s: S): { loss: number; tokens: number; metrics: Record<string, number> };
  /** One short line per logged iteration. */
  line(s: S): string;
  lr: number;
}

export interface RlLoopResult { stoppedBy: 'max-steps' | 'signal'; step: number; checkpoint: string | null; history: Record<string, number>[] }

function saveLoop(root: string, loop: RlLoop<unknown>, keepLast: number, extra: Record<string, unknown>): string {
  const s = loop.state();
  const model = new Map<string, Tensor>(), optimizer = new Map<string, Tensor>();
  for (const [k, t] of s.tensors) {
    if (k.startsWith('model.')) model.set(k.slice(6), t);
    else if (k.startsWith('optim.')) optimizer.set(k.slice(6), t);
  }
  return saveCheckpoint(root, loop.step, { model, optimizer, state: { meta: s.meta, ...extra } }, keepLast);
}

function restoreLoop(dir: string, loop: RlLoop<unknown>): Record<string, unknown> {
  const c = loadCheckpoint(dir);
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of c.model) tensors.set(`model.${k}`, t);
  for (const [k, t] of c.optimizer) tensors.set(`optim.${k}`, t);
  try { loop.restore({ tensors, meta: c.state.meta as Record<string, unknown> }); } finally { for (const t of tensors.values()) t.dispose(); }
  return c.state;
}

export async function runRlLoop<S>(a: RlLoopRun<S>): Promise<RlLoopResult> {
  const t = a.ctx.cfg.train, say = a.ctx.say;
  const root = path.join(a.run.dir, 'checkpoints');
  let elapsedBefore = 0;
  if (a.run.resumed) {
    const last = latestCheckpoint(root);
    if (last) {
      const st = restoreLoop(last, a.loop);
      elapsedBefore = Number(st.elapsedMs ?? 0);
      say(`resumed from ${last} at step ${a.loop.step}`);
    }
  }
  const logger = runLogger(a.run.dir, { tensorboard: t.tensorboard });
  let stop: string | null = null;
  const onSignal = (sig: string) => () => {
    if (stop) { say(`${sig} again: exiting without saving`); process.exit(130); }
    say(`${sig}: finishing this step, saving a checkpoint, then stopping (press again to quit at once)`);
    stop = sig;
  };
  const handlers: [NodeJS.Signals, () => void][] = [['SIGINT', onSignal('SIGINT')], ['SIGTERM', onSignal('SIGTERM')], ['SIGUSR1', onSignal('SIGUSR1')]];
  for (const [s, h] of handlers) process.on(s, h);
  const t0 = Date.now();
  const history: Record<string, number>[] = [];
  let checkpoint: string | null = null;
  const save = (stoppedBy: string | null) => {
    checkpoint = saveLoop(root, a.loop, t.keep_last, { stoppedBy, elapsedMs: elapsedBefore + Date.now() - t0 });
    return checkpoint;
  };
  try {
    while (a.loop.step < t.steps && !stop) {
      const stats = a.loop.run();
      const step = a.loop.step;
      const sc = a.scalars(stats);
      history.push({ step, loss: sc.loss, ...sc.metrics });
      logger.step({ step, maxSteps: t.steps, loss: sc.loss, lr: a.lr, gradNorm: NaN, tokens: sc.tokens, targetTokens: sc.tokens, elapsedMs: elapsedBefore + Date.now() - t0, metrics: sc.metrics });
      if (step % t.log_every === 0 || step === t.steps) say(`step ${step}/${t.steps} ${a.line(stats)}`);
      if (t.save_every > 0 && step % t.save_every === 0 && step < t.steps) save(null);
      // let pending signals reach their handlers between iterations
      await new Promise((r) => setImmediate(r));
    }
    const stoppedBy = stop ? 'signal' : 'max-steps';
    save(stop ? 'signal' : 'max-steps');
    logger.close({ stoppedBy });
    say(`${stoppedBy === 'signal' ? `stopped (${stop})` : 'finished'} at step ${a.loop.step}; checkpoint ${checkpoint}`);
    return { stoppedBy, step: a.loop.step, checkpoint, history };
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}
