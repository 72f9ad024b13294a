// Worker entry for BatchLoader prefetching: reopens the dataset, assembles batches and transfers their buffers.
import { parentPort, workerData } from 'node:worker_threads';
import { nextBatch } from './batch-order';
import { openDataset } from './pretrain-dataset';
import { Cursor } from './sample';

const ds = openDataset(workerData.dataset);
let cursor: Cursor = workerData.cursor;

parentPort!.on('message', (m: { more: number }) => {
  try {
    for (let i = 0; i < m.more; i++) {
      const r = nextBatch(ds, cursor, workerData.batching);
      if (!r) {
        parentPort!.postMessage({ done: true });
        return;
      }
      cursor = r.after;
      const b = r.batch;
      const transfer = [b.inputIds, b.labels, b.attentionMask, b.positionIds, b.segmentIds].filter((a) => a).map((a) => a!.buffer) as ArrayBuffer[];
      parentPort!.postMessage({ batch: b, after: cursor }, transfer);
    }
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).message });
  }
});
