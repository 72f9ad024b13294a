// Shared bench runner: builds what the benches import when it is missing or older than its sources
// (the native addon, then the listed packages' dist, dependencies first), then runs every *.bench.mjs
// of a package's bench/ folder in name order, each in its own node process, stopping at the first failure.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Newest modification time (ms) of the files under dir (0 when it does not exist). */
function newest(dir) {
  if (!fs.existsSync(dir)) return 0;
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}
const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0);

function build(cwd, cmd, args) {
  console.log(`[bench] building: (cd ${path.relative(process.cwd(), cwd) || '.'} && ${cmd} ${args.join(' ')})`);
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: process.env });
  if (r.status !== 0) {
    console.error(`[bench] build failed: ${cmd} ${args.join(' ')} in ${cwd}`);
    process.exit(1);
  }
}

/**
 * benchDir: the package's bench/ folder; deps: workspace package folder names whose dist the benches
 * import (e.g. ['native', 'tensor', 'nn']); filter: keep benches whose file name contains it.
 */
export function runBenches(benchDir, { deps = [], filter = '' } = {}) {
  const pkg = path.dirname(benchDir);
  const packages = path.dirname(pkg);
  if (deps.includes('native')) {
    const native = path.join(packages, 'native');
    if (mtime(path.join(native, 'build', 'Release', 'stellar_native.node')) < newest(path.join(native, 'csrc'))) build(native, process.execPath, ['scripts/build.mjs']);
  }
  for (const name of deps) {
    const dir = path.join(packages, name);
    if (mtime(path.join(dir, 'dist', 'index.mjs')) < newest(path.join(dir, 'src'))) build(dir, 'npx', ['tsup']);
  }
  const benches = fs.readdirSync(benchDir).filter((f) => f.endsWith('.bench.mjs') && f.includes(filter)).sort();
  if (benches.length === 0) {
    console.error(`[bench] no *.bench.mjs in ${benchDir}${filter ? ` matching "${filter}"` : ''}`);
    process.exit(1);
  }
  const results = [];
  for (const file of benches) {
    console.log(`[bench] ${file}`);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [path.join(benchDir, file)], { cwd: pkg, stdio: 'inherit', env: process.env });
    const seconds = (Date.now() - t0) / 1000;
    const ok = r.status === 0;
    results.push({ bench: file, ok, seconds, status: r.status, signal: r.signal });
    fs.writeFileSync(path.join(pkg, '.bench-results.json'), JSON.stringify(results, null, 2) + '\n');
    if (!ok) {
      const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
      console.error(`[bench] FAILED: ${file} (${why}) after ${seconds.toFixed(1)} s; not running the ${benches.length - results.length} remaining bench(es)`);
      process.exit(1);
    }
    console.log(`[bench] ${file} done in ${seconds.toFixed(1)} s`);
  }
  console.log(`[bench] ${results.length} bench(es) done: ${results.map((r) => r.bench).join(', ')}`);
}
