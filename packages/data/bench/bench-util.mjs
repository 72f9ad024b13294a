// Helpers shared by the *.bench.mjs scripts: sample statistics, Markdown tables, and writing a
// section to <repo>/.bench/<name>.md for scripts/bench-report.mjs. Not a benchmark itself.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root: the nearest folder above this file with pnpm-workspace.yaml. */
export function repoRoot() {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the repo root (no pnpm-workspace.yaml above ' + import.meta.url + ')');
    dir = up;
  }
}

/** Seconds since an arbitrary origin, with sub-microsecond resolution. */
export const now = () => Number(process.hrtime.bigint()) / 1e9;

function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median, quartiles and range of a list of samples. */
export function stats(samples) {
  if (samples.length === 0) throw new Error('stats of no samples');
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), q1: quantile(s, 0.25), q3: quantile(s, 0.75), min: s[0], max: s[s.length - 1] };
}

/** A number with `digits` significant digits (no exponent for the usual ranges). */
export function fmt(x, digits = 3) {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const d = Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(x))));
  return x.toFixed(Math.min(d, 6));
}

/** A Markdown table from a header row and data rows (cells are strings or numbers). */
export function table(header, rows) {
  const line = (cells) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Writes one section of BENCHMARKS.md and echoes it to stdout. */
export function writeSection(name, markdown) {
  const dir = path.join(repoRoot(), '.bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.md`);
  fs.writeFileSync(file, markdown.trimEnd() + '\n');
  console.log('\n' + markdown.trimEnd() + '\n');
  console.log(`[bench] wrote ${path.relative(repoRoot(), file)}`);
}

/** Waits without spinning (lets BLAS worker threads of the other side go back to sleep). */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
