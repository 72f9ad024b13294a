// Starts one of this package's worker entry files (see @stellar/tokenizer's spawnWorkerEntry).
import type { Worker } from 'node:worker_threads';
import { spawnWorkerEntry } from '@stellar/tokenizer';

/** `name` is the entry's base name (`pretokenize-worker`, `loader-worker`); `data` becomes its workerData. */
export function spawnWorker(name: string, data: Record<string, unknown>): Worker {
  return spawnWorkerEntry({ dir: __dirname, file: __filename, name, pkg: '@stellar/data' }, data);
}
