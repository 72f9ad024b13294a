// A one-line progress bar on stderr for long data jobs: bytes done, MB/s, tokens, ETA from the total bytes.
export interface ProgressCounts {
  bytes: number;
  tokens: number;
  docs: number;
}

const fmtTime = (s: number) => {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
};

export class ProgressBar {
  private last = 0;
  private readonly t0 = Date.now();

  constructor(
    private readonly totalBytes: number | undefined,
    private readonly out: { write(s: string): unknown } | null = process.stderr,
    private readonly everyMs = 250,
  ) {}

  /** Renders at most every `everyMs` (writing to a terminal is not free). */
  update(c: ProgressCounts, force = false): void {
    if (!this.out) return;
    const now = Date.now();
    if (!force && now - this.last < this.everyMs) return;
    this.last = now;
    this.out.write(`\r${this.line(c, (now - this.t0) / 1000)}\x1b[K`);
  }

  line(c: ProgressCounts, seconds: number): string {
    const mbps = c.bytes / 1e6 / Math.max(seconds, 1e-9);
    const stats = `${(c.bytes / 1e6).toFixed(1)} MB  ${mbps.toFixed(2)} MB/s  ${c.docs.toLocaleString('en-US')} docs  ${c.tokens.toLocaleString('en-US')} tokens`;
    if (!this.totalBytes) return stats;
    const frac = Math.min(1, c.bytes / this.totalBytes);
    const width = 24;
    const fill = Math.round(frac * width);
    const eta = frac > 0 ? (seconds / frac) * (1 - frac) : Infinity;
    return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(1).padStart(5)}%  ${stats}  ETA ${fmtTime(eta)}`;
  }

  done(c: ProgressCounts): void {
    if (!this.out) return;
    this.update(c, true);
    this.out.write('\n');
  }
}
