// metrics.jsonl: one JSON object per logged step, appended and written through at once so a crash loses nothing.
import fs from 'node:fs';
import path from 'node:path';

/** One line of metrics.jsonl. `time` is seconds since the epoch. */
export interface MetricsRecord {
  step: number;
  time: number;
  [name: string]: number;
}

// JSON has no NaN/Infinity; writing them as strings keeps a diverging loss visible instead of turning it into null.
function encodeValue(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

function decodeLine(line: string): MetricsRecord | null {
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(line);
  } catch {
    return null;
  }
  if (obj === null || typeof obj !== 'object' || typeof obj.step !== 'number') return null;
  for (const [k, v] of Object.entries(obj)) {
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') obj[k] = Number(v);
  }
  return obj as MetricsRecord;
}

/** Reads metrics.jsonl; a torn last line (killed mid-write) and blank lines are skipped. */
export function readMetrics(file: string): MetricsRecord[] {
  if (!fs.existsSync(file)) return [];
  const out: MetricsRecord[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const r = decodeLine(line);
    if (r) out.push(r);
  }
  return out;
}

/**
 * Keeps only the records with `step <= step` (what a checkpoint at `step` has seen), rewriting the file
 * atomically: temp file, fsync, rename. Returns how many records were dropped.
 */
export function truncateMetrics(file: string, step: number): number {
  if (!fs.existsSync(file)) return 0;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const kept = lines.filter((l) => {
    const r = decodeLine(l);
    return r !== null && r.step <= step;
  });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, kept.map((l) => l + '\n').join(''));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  try {
    // Make the rename itself durable; not every platform lets a directory be opened.
    const dfd = fs.openSync(path.dirname(file), 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  } catch { /* best effort */ }
  return lines.length - kept.length;
}

/** Appends `{step, time, ...scalars}` lines to a metrics.jsonl file (append mode, so a resumed run continues it). */
export class MetricsWriter {
  readonly path: string;
  private fd: number | null;

  constructor(file: string) {
    this.path = file;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
    // A run killed mid-write leaves a torn last line; start on a fresh line so the next record stays readable.
    const size = fs.fstatSync(this.fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const rfd = fs.openSync(file, 'r');
      try { fs.readSync(rfd, last, 0, 1, size - 1); } finally { fs.closeSync(rfd); }
      if (last[0] !== 0x0a) fs.writeSync(this.fd, '\n');
    }
  }

  /** Writes one line; `time` defaults to now (seconds since the epoch). */
  log(step: number, scalars: Record<string, number>, time = Date.now() / 1000): MetricsRecord {
    if (this.fd === null) throw new Error(`MetricsWriter: log() after close() (${this.path})`);
    if ('step' in scalars || 'time' in scalars) throw new Error("MetricsWriter: 'step' and 'time' are reserved names");
    const record: MetricsRecord = { step, time, ...scalars };
    fs.writeSync(this.fd, JSON.stringify(record, encodeValue) + '\n');
    return record;
  }

  /** At resume from a checkpoint at `step`: drops the lines logged after it, then continues appending. */
  truncateAfter(step: number): number {
    const wasOpen = this.fd !== null;
    this.close();
    const dropped = truncateMetrics(this.path, step);
    if (wasOpen) this.fd = fs.openSync(this.path, 'a');
    return dropped;
  }

  close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
