// Training progress line: a redrawn bar on a terminal, periodic plain lines in CI logs.

/** The part of a writable stream the progress bar needs (process.stderr fits). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
  writable?: boolean;
  destroyed?: boolean;
  on?(event: 'error', fn: (err: unknown) => void): unknown;
  off?(event: 'error', fn: (err: unknown) => void): unknown;
}

export interface ProgressOptions {
  /** Total number of steps of the run. */
  total: number;
  /** Where to draw (default process.stderr). */
  stream?: ProgressStream;
  /** Force terminal (redrawn line) or log (plain lines) mode; default: the stream's isTTY. */
  tty?: boolean;
  /** Log mode: print a line at least this often (default 30 s)... */
  intervalSecs?: number;
  /** ...and whenever the step crosses a multiple of this (default: time only). */
  intervalSteps?: number;
  /** Terminal mode: redraw at most this often, so fast steps do not flood the terminal (default 100 ms). */
  redrawMs?: number;
  /** Smoothing of tokens/s and steps/s: weight of the newest interval (default 0.1). */
  emaAlpha?: number;
  /** When the work started (ms, the clock of `now`), if before the bar was made: the first rate then covers it. */
  startedAt?: number;
  /** Step the run starts from (a resumed run), so the rate ignores the steps done before. */
  startStep?: number;
  /** Bar width in characters (default 20). */
  barWidth?: number;
  /** Clock in milliseconds, injectable for tests (default Date.now). */
  now?: () => number;
}

export interface ProgressUpdate {
  loss?: number;
  lr?: number;
  /** Tokens processed since the previous update (drives tokens/s). */
  tokens?: number;
  /** Further scalars shown as `| name value`. */
  [name: string]: number | undefined;
}

/** `m:ss`, or `h:mm:ss` from one hour on. */
export function formatDuration(secs: number): string {
  if (!Number.isFinite(secs) || secs < 0) return '?';
  const s = Math.floor(secs + 1e-6); // whole seconds passed, as a clock shows them
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** 950, 12.3k, 4.56M: three significant figures at most. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n < 1000) return n < 10 ? n.toFixed(1) : String(Math.round(n));
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 2 : 1)}k`;
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)}M`;
}

function formatScalar(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-2 || a >= 1e5) ? v.toExponential(1) : v.toFixed(3);
}

export class ProgressBar {
  private readonly total: number;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly intervalSteps: number;
  private readonly redrawMs: number;
  private readonly alpha: number;
  private readonly barWidth: number;
  private readonly now: () => number;
  private readonly startTime: number;
  private step: number;
  private last: { time: number; step: number };
  private tokPerSec: number | null = null;
  private pendingTokens: number | null = null;
  private stepsPerSec: number | null = null;
  private values: ProgressUpdate = {};
  private lastDraw = -Infinity;
  private lastDrawStep = -Infinity;
  private dead = false;
  private done = false;
  private readonly onError = (): void => { this.dead = true; };

  constructor(opts: ProgressOptions) {
    if (!(opts.total > 0)) throw new Error(`ProgressBar: total must be > 0, got ${opts.total}`);
    this.total = opts.total;
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? Boolean(this.stream.isTTY);
    this.intervalMs = (opts.intervalSecs ?? 30) * 1000;
    this.intervalSteps = opts.intervalSteps ?? Infinity;
    this.redrawMs = opts.redrawMs ?? 100;
    this.alpha = opts.emaAlpha ?? 0.1;
    this.barWidth = opts.barWidth ?? 20;
    this.now = opts.now ?? Date.now;
    this.startTime = opts.startedAt ?? this.now();
    this.step = opts.startStep ?? 0;
    this.last = { time: this.startTime, step: this.step };
    // A closed pipe reports through an 'error' event; without a listener that would crash the training run.
    this.stream.on?.('error', this.onError);
  }

  /** Reports that `step` steps are done, with the latest loss / lr / tokens and any other scalars. */
  update(step: number, values: ProgressUpdate = {}): void {
    const t = this.now();
    const dt = (t - this.last.time) / 1000;
    if (values.tokens !== undefined) this.pendingTokens = (this.pendingTokens ?? 0) + values.tokens;
    // Updates within the same clock tick are folded into the next interval rather than dividing by zero.
    if (dt > 0) {
      this.stepsPerSec = this.ema(this.stepsPerSec, (step - this.last.step) / dt);
      if (this.pendingTokens !== null) this.tokPerSec = this.ema(this.tokPerSec, this.pendingTokens / dt);
      this.pendingTokens = null;
      this.last = { time: t, step };
    }
    this.step = step;
    this.values = { ...this.values, ...values };
    const due = this.tty
      ? t - this.lastDraw >= this.redrawMs
      : t - this.lastDraw >= this.intervalMs || Math.floor(step / this.intervalSteps) > Math.floor(this.lastDrawStep / this.intervalSteps);
    if (due) this.draw(t);
  }

  /** Prints a message on its own line without breaking the bar (e.g. an eval result). */
  log(message: string): void {
    this.write(this.tty ? `\r\x1b[2K${message}\n` : `${message}\n`);
    if (this.tty && this.lastDraw > -Infinity && !this.done) this.write(this.render(this.now()));
  }

  /** Prints the final line and a newline; later calls do nothing. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    const line = this.render(this.now());
    this.write(this.tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    // Stop listening only after a tick, so an error from the final write still finds the listener.
    setImmediate(() => this.stream.off?.('error', this.onError));
  }

  /** The current status line, e.g. `step 120/2000 [=>  ] 6% | loss 3.214 | lr 3.0e-4 | 12.3k tok/s | elapsed 1:02 | ETA 16:20`. */
  render(t = this.now()): string {
    const frac = Math.min(1, Math.max(0, this.step / this.total));
    const filled = Math.floor(frac * this.barWidth);
    const bar = filled >= this.barWidth ? '='.repeat(this.barWidth) : '='.repeat(filled) + '>' + ' '.repeat(this.barWidth - filled - 1);
    const parts = [`step ${this.step}/${this.total} [${bar}] ${Math.floor(frac * 100)}%`];
    const { loss, lr, tokens: _tokens, ...rest } = this.values;
    if (loss !== undefined) parts.push(`loss ${Number.isFinite(loss) ? loss.toFixed(3) : loss}`);
    if (lr !== undefined) parts.push(`lr ${lr.toExponential(1)}`);
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) parts.push(`${k} ${formatScalar(v)}`);
    if (this.tokPerSec !== null) parts.push(`${formatCount(this.tokPerSec)} tok/s`);
    parts.push(`elapsed ${formatDuration((t - this.startTime) / 1000)}`);
    const remaining = this.total - this.step;
    if (remaining <= 0) parts.push('ETA 0:00');
    else if (this.stepsPerSec !== null && this.stepsPerSec > 0) parts.push(`ETA ${formatDuration(remaining / this.stepsPerSec)}`);
    let line = parts.join(' | ');
    // A line longer than the terminal wraps, and `\r` then only clears the last piece of it.
    if (this.tty && this.stream.columns && line.length >= this.stream.columns) line = line.slice(0, this.stream.columns - 1);
    return line;
  }

  private ema(prev: number | null, x: number): number {
    return prev === null ? x : prev + this.alpha * (x - prev);
  }

  private draw(t: number): void {
    this.lastDraw = t;
    this.lastDrawStep = this.step;
    const line = this.render(t);
    this.write(this.tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }

  private write(s: string): void {
    if (this.dead || this.stream.destroyed || this.stream.writable === false) return;
    try {
      this.stream.write(s);
    } catch {
      this.dead = true;
    }
  }
}
