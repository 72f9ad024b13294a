// The run directory's TrainLogger: progress bar, metrics.jsonl, TensorBoard scalars and, at the end, loss/lr plots.
import path from 'node:path';
import type { EvalInfo, StepInfo, TrainLogger } from '../trainer/logger';
import { MetricsWriter } from './jsonl';
import { ProgressBar, type ProgressStream } from './progress';
import { savePlots } from './save-plots';
import { TensorBoardWriter } from './tensorboard';

export interface RunLoggerOptions {
  /** Write TensorBoard event files into the run directory (default true). */
  tensorboard?: boolean;
  /** Draw the progress bar and print eval results and messages; false keeps the stream quiet (default true). */
  progress?: boolean;
  /** Write loss.png / lr.png when the run closes (default true). */
  plots?: boolean;
  /** Progress output (default process.stderr). */
  stream?: ProgressStream;
  /** Seconds between progress lines when the stream is not a terminal (default 30). */
  progressIntervalSecs?: number;
}

/**
 * Logs a run into `runDir`. A resumed run is detected from its first step: metrics.jsonl lines after the
 * checkpoint's step are dropped before appending, so the file reads like one uninterrupted run.
 */
export function runLogger(runDir: string, opts: RunLoggerOptions = {}): TrainLogger {
  const jsonl = new MetricsWriter(path.join(runDir, 'metrics.jsonl'));
  let tb: TensorBoardWriter | null = null;
  let bar: ProgressBar | null = null;
  let started = false;
  let closed = false;
  const say = (text: string) => {
    if (bar) bar.log(text);
    else if (opts.progress !== false) (opts.stream ?? process.stderr).write(`${text}\n`);
  };

  const start = (s: StepInfo) => {
    started = true;
    jsonl.truncateAfter(s.step - 1);
    if (opts.tensorboard !== false) tb = new TensorBoardWriter(runDir);
    if (opts.progress !== false) {
      bar = new ProgressBar({ total: s.maxSteps, startStep: s.step - 1, startedAt: Date.now() - s.elapsedMs, stream: opts.stream, intervalSecs: opts.progressIntervalSecs });
    }
  };

  return {
    step(s) {
      if (closed) return;
      if (!started) start(s);
      const scalars: Record<string, number> = { loss: s.loss, lr: s.lr, tokens: s.tokens, target_tokens: s.targetTokens, ...s.metrics };
      if (Number.isFinite(s.gradNorm)) scalars.grad_norm = s.gradNorm;
      const time = Date.now() / 1000;
      jsonl.log(s.step, scalars, time);
      if (tb) {
        for (const [k, v] of Object.entries(scalars)) if (k !== 'tokens' && k !== 'target_tokens') tb.addScalar(`train/${k}`, v, s.step, time);
      }
      bar?.update(s.step, { loss: s.loss, lr: s.lr, tokens: s.tokens });
    },
    eval(e: EvalInfo) {
      if (closed) return;
      const time = Date.now() / 1000;
      jsonl.log(e.step, { eval_loss: e.loss, eval_ppl: e.perplexity, eval_tokens: e.tokens }, time);
      tb?.addScalars({ 'eval/loss': e.loss, 'eval/ppl': e.perplexity }, e.step, time);
      say(`eval @${e.step}: loss ${e.loss.toFixed(4)} | ppl ${e.perplexity.toFixed(2)} | ${e.tokens} tokens`);
    },
    message(text) {
      say(text);
    },
    close() {
      if (closed) return;
      closed = true;
      bar?.finish();
      tb?.close();
      jsonl.close();
      if (opts.plots !== false) savePlots(runDir);
    },
  };
}
