// Stacks samples into one row-major (B, T) batch, padding shorter samples on the right.
import { Sample } from './sample';

export interface Batch {
  inputIds: Int32Array; // (B, T)
  labels: Int32Array; // (B, T), -100 where no loss is taken (padding included)
  attentionMask: Uint8Array; // (B, T), 0 on padding
  positionIds: Int32Array; // (B, T)
  /** (B, T), only when some sample is packed: unpacked rows are segment 0, padding is -1. */
  segmentIds?: Int32Array;
  batchSize: number;
  seqLen: number;
}

export const IGNORE_INDEX = -100;

/** T is the longest sample; padding gets `padId`, label -100, mask 0, position 0 (and segment -1). */
export function collate(samples: readonly Sample[], padId = 0): Batch {
  const B = samples.length;
  const T = samples.reduce((m, s) => Math.max(m, s.inputIds.length), 0);
  const inputIds = new Int32Array(B * T).fill(padId);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  const attentionMask = new Uint8Array(B * T);
  const positionIds = new Int32Array(B * T);
  const segmentIds = samples.some((s) => s.segmentIds) ? new Int32Array(B * T).fill(-1) : undefined;
  samples.forEach((s, b) => {
    const n = s.inputIds.length;
    if (s.labels.length !== n) throw new Error(`collate: sample ${b} has ${n} inputIds but ${s.labels.length} labels`);
    const row = b * T;
    inputIds.set(s.inputIds, row);
    labels.set(s.labels, row);
    if (s.attentionMask) attentionMask.set(s.attentionMask, row);
    else attentionMask.fill(1, row, row + n);
    if (s.positionIds) positionIds.set(s.positionIds, row);
    else for (let i = 0; i < n; i++) positionIds[row + i] = i;
    if (segmentIds) {
      if (s.segmentIds) segmentIds.set(s.segmentIds, row);
      else segmentIds.fill(0, row, row + n);
    }
  });
  return { inputIds, labels, attentionMask, positionIds, ...(segmentIds ? { segmentIds } : {}), batchSize: B, seqLen: T };
}
