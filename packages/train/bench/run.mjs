// Runs this package's benches (every *.bench.mjs here, in name order), building stale dists first.
// Usage (from the package): node bench/run.mjs [filter]   (filter keeps benches whose name contains it)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBenches } from '../../../scripts/run-benches.mjs';

runBenches(path.dirname(fileURLToPath(import.meta.url)), { deps: ['native', 'tensor', 'nn', 'tokenizer', 'data', 'train'], filter: process.argv[2] ?? '' });
