// Runs every *.bench.mjs in this folder in name order, each in its own node process, and stops at
// the first failure. Usage (from the package, after `npx tsup`): node bench/run.mjs [filter]
// where filter keeps only the benches whose file name contains it (e.g. `node bench/run.mjs matmul`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.dirname(here);
const filter = process.argv[2] ?? '';

if (!fs.existsSync(path.join(pkg, 'dist', 'index.mjs'))) {
  console.error(`[bench] ${path.relative(process.cwd(), path.join(pkg, 'dist'))} is not built: run \`npx tsup\` in ${pkg} (or \`pnpm build\`) first`);
  process.exit(1);
}

const benches = fs.readdirSync(here).filter((f) => f.endsWith('.bench.mjs') && f.includes(filter)).sort();
if (benches.length === 0) {
  console.error(`[bench] no *.bench.mjs in ${here}${filter ? ` matching "${filter}"` : ''}`);
  process.exit(1);
}

const results = [];
for (const file of benches) {
  console.log(`[bench] ${file}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(here, file)], { cwd: pkg, stdio: 'inherit', env: process.env });
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
