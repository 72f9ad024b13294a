// Progress reporting for the train-tokenizer CLI: one rewritten line on a terminal, a line every few seconds otherwise.
import type { TrainProgress } from '../train';

export interface ProgressSink {
  write(s: string): unknown;
  isTTY?: boolean;
}

const MB = 1024 * 1024;
/** Seconds between lines when stderr is a file or pipe (a log should not get one line per chunk). */
const LOG_EVERY_S = 5;

export const fmtMB = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

function fmtEta(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 1) return '<1s';
  const whole = Math.ceil(s);
  if (whole < 60) return `${whole}s`;
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}

/**
 * The status line for one progress event. Merge rates are measured from `since` (an earlier merge
 * event, normally the first, sent once the pair tables are built) so setup time does not skew the ETA.
 */
export function progressLine(p: TrainProgress, since?: { merges: number; elapsedMs: number }): string {
  const secs = p.elapsedMs / 1000;
  if (p.phase === 'count') {
    const rate = secs > 0 ? p.bytesRead / MB / secs : 0;
    if (p.totalBytes <= 0) return `counting: ${p.texts} texts`;
    const frac = Math.min(1, p.bytesRead / p.totalBytes);
    const eta = rate > 0 ? (p.totalBytes - p.bytesRead) / MB / rate : NaN;
    return `counting: ${fmtMB(p.bytesRead)} / ${fmtMB(p.totalBytes)} (${(frac * 100).toFixed(0)}%), ${rate.toFixed(1)} MB/s, ETA ${p.done ? '0s' : fmtEta(eta)}`;
  }
  const from = since ?? { merges: 0, elapsedMs: 0 };
  const dt = (p.elapsedMs - from.elapsedMs) / 1000;
  const rate = dt > 0 ? (p.merges - from.merges) / dt : 0;
  const eta = rate > 0 ? (p.totalMerges - p.merges) / rate : NaN;
  return `merging: ${p.merges} / ${p.totalMerges} merges, ${rate.toFixed(0)} merges/s, ETA ${p.done ? '0s' : fmtEta(eta)}`;
}

/** An `onProgress` callback writing to `out`: a terminal line redrawn at most 10 times a second, else a line every few seconds. */
export function progressReporter(out: ProgressSink): (p: TrainProgress) => void {
  let last = -Infinity;
  let lastPhase = '';
  let firstMerge: { merges: number; elapsedMs: number } | undefined;
  return (p) => {
    if (p.phase === 'merge') firstMerge ??= { merges: p.merges, elapsedMs: p.elapsedMs };
    const now = performance.now() / 1000;
    const every = out.isTTY ? 0.1 : LOG_EVERY_S;
    if (!(p.done || p.phase !== lastPhase || now - last >= every)) return;
    last = now;
    lastPhase = p.phase;
    const line = progressLine(p, firstMerge);
    out.write(out.isTTY ? `\r${line}\x1b[K${p.done ? '\n' : ''}` : line + '\n');
  };
}
