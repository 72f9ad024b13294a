// What the trainer reports and to whom: a TrainLogger receives each step, each evaluation and
// free-form messages; consoleLogger is the plain default (the run logger adds progress bar, files, plots).
export interface StepInfo {
  step: number;
  maxSteps: number;
  loss: number;
  lr: number;
  /** Before clipping; NaN when clipping is off. */
  gradNorm: number;
  /** Input tokens processed by this step (all micro-batches). */
  tokens: number;
  /** Tokens that carried a loss. */
  targetTokens: number;
  elapsedMs: number;
  metrics: Record<string, number>;
}

export interface EvalInfo { step: number; loss: number; perplexity: number; tokens: number }

export interface TrainLogger {
  step(s: StepInfo): void;
  eval(e: EvalInfo): void;
  message(text: string): void;
  close(result: unknown): void;
}

/** Plain lines on stderr every `every` steps (and the last). */
export function consoleLogger(every = 10, out: NodeJS.WritableStream = process.stderr): TrainLogger {
  return {
    step(s) {
      if (s.step % every !== 0 && s.step !== s.maxSteps) return;
      out.write(`step ${s.step}/${s.maxSteps} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)}\n`);
    },
    eval(e) { out.write(`eval @${e.step}: loss ${e.loss.toFixed(4)} ppl ${e.perplexity.toFixed(2)} (${e.tokens} tokens)\n`); },
    message(t) { out.write(`${t}\n`); },
    close() {},
  };
}

/** Forwards to several loggers. */
export function teeLogger(...ls: TrainLogger[]): TrainLogger {
  return {
    step: (s) => ls.forEach((l) => l.step(s)),
    eval: (e) => ls.forEach((l) => l.eval(e)),
    message: (t) => ls.forEach((l) => l.message(t)),
    close: (r) => ls.forEach((l) => l.close(r)),
  };
}
