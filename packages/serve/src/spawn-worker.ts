// Starts the engine worker entry (see @stellar/tokenizer's spawnWorkerEntry).
import type { Worker } from 'node:worker_threads';
import { spawnWorkerEntry } from '@stellar/tokenizer';

export function spawnEngineWorker(data: Record<string, unknown>): Worker {
  return spawnWorkerEntry({ dir: __dirname, file: __filename, name: 'engine-worker', pkg: '@stellar/serve' }, data);
}
