// The sample and cursor types shared by every dataset (pretraining now; SFT / preference / prompt sets later).

/** One training example. `labels` is aligned with `inputIds` (Hugging Face convention: the model shifts). */
export interface Sample {
  inputIds: Int32Array;
  /** -100 where no loss is taken. */
  labels: Int32Array;
  /** 1 for real tokens; all ones when absent. */
  attentionMask?: Uint8Array;
  /** 0..T-1 when absent. */
  positionIds?: Int32Array;
  /** Packed samples: which original sample each token belongs to (attention stays inside one). */
  segmentIds?: Int32Array;
}

/** Where a dataset is in its sample order: the next sample is number `index` of epoch `epoch`'s order under `seed`. */
export interface Cursor {
  epoch: number;
  index: number;
  seed: number;
}

/** Enough to reopen a dataset in another thread (the batch loader's worker). */
export interface DatasetDescriptor {
  kind: string;
  [key: string]: unknown;
}

/** A dataset with a per-epoch sample order that can be addressed at random: what the batch loader needs. */
export interface SampleDataset {
  /** Samples per epoch. */
  readonly length: number;
  readonly seed: number;
  /** Sample number `index` of epoch `epoch`'s order shuffled with `seed` (default: the dataset's seed). */
  sampleAt(epoch: number, index: number, seed?: number): Sample;
  describe(): DatasetDescriptor;
  close(): void;
}

export function checkCursor(c: Cursor, where: string): Cursor {
  for (const k of ['epoch', 'index', 'seed'] as const) {
    if (!Number.isSafeInteger(c?.[k]) || c[k] < 0) throw new Error(`${where}: cursor.${k} must be a non-negative integer, got ${JSON.stringify(c?.[k])}`);
  }
  return { epoch: c.epoch, index: c.index, seed: c.seed };
}
