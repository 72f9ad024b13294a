// Sums the jest --json results of every workspace package into one line: "N passed, N failed".
// Suites that failed to run (syntax errors, crashes) count as failures.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const since = Number(process.env.STELLAR_TEST_SINCE ?? 0);
let passed = 0, failed = 0, skipped = 0;
for (const group of ['packages', 'apps']) {
  const dir = path.join(root, group);
  if (!fs.existsSync(dir)) continue;
  for (const name of fs.readdirSync(dir).sort()) {
    const pkg = path.join(dir, name);
    if (!fs.statSync(pkg).isDirectory()) continue;
    // .jest-results.json, plus extra runs such as .jest-results-cuda-emu.json
    for (const file of fs.readdirSync(pkg).filter((f) => /^\.jest-results.*\.json$/.test(f)).sort()) {
      const f = path.join(pkg, file);
      if (fs.statSync(f).mtimeMs < since) continue;
      const r = JSON.parse(fs.readFileSync(f, 'utf8'));
      passed += r.numPassedTests;
      failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
      skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    }
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
