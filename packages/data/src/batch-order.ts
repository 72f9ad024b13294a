// Which samples form the next batch after a cursor: the one batching rule shared by the loader and its worker.
import { Batch, collate } from './collate';
import { Cursor, SampleDataset } from './sample';

export interface BatchingOptions {
  batchSize: number;
  /** Drop an epoch's last short batch (default true), so every batch has batchSize rows. */
  dropLast?: boolean;
  /** Stop after this many epochs (default: never). */
  epochs?: number;
  padId?: number;
}

/** The batch at `cursor` and the cursor after it, or null when `epochs` are done. Batches never span epochs. */
export function nextBatch(ds: SampleDataset, cursor: Cursor, o: BatchingOptions): { batch: Batch; after: Cursor } | null {
  const dropLast = o.dropLast ?? true;
  const epochs = o.epochs ?? Infinity;
  const perEpoch = dropLast ? Math.floor(ds.length / o.batchSize) * o.batchSize : ds.length;
  if (perEpoch === 0) throw new Error(`batch loader: the dataset has ${ds.length} samples per epoch, not enough for one batch of ${o.batchSize}`);
  let { epoch, index } = cursor;
  if (index >= perEpoch) {
    epoch++;
    index = 0;
  }
  if (epoch >= epochs) return null;
  const n = Math.min(o.batchSize, perEpoch - index);
  const samples = [];
  for (let k = 0; k < n; k++) samples.push(ds.sampleAt(epoch, index + k, cursor.seed));
  return { batch: collate(samples, o.padId), after: { epoch, index: index + n, seed: cursor.seed } };
}
