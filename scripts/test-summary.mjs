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
    const f = path.join(dir, name, '.jest-results.json');
    if (!fs.existsSync(f) || fs.statSync(f).mtimeMs < since) continue;
    const r = JSON.parse(fs.readFileSync(f, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
