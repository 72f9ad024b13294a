// Packing of short SFT samples into rows of at most maxLength tokens (first-fit decreasing), with the
// per-sample boundaries the model needs: segment ids (attention stays inside a sample) and position
// ids restarting at 0. The first label of every packed sample is -100: the token before it belongs
// to another sample, so predicting it across the boundary would teach noise.
import type { Sample } from '../sample';

export interface PackReport {
  /** Rows after packing. */
  rows: number;
  /** Real tokens / (rows × maxLength): how much of each row is not padding. */
  fill: number;
}

/** Deterministic: the same samples in the same order always give the same rows. */
export function packSamples(samples: readonly Sample[], maxLength: number): { rows: Sample[]; report: PackReport } {
  for (const [i, s] of samples.entries()) {
    if (s.inputIds.length > maxLength) throw new Error(`packSamples: sample ${i} has ${s.inputIds.length} tokens, more than maxLength ${maxLength}`);
  }
  // longest first, ties by original index, so the result does not depend on the sort's stability
  const order = samples.map((_, i) => i).sort((a, b) => samples[b].inputIds.length - samples[a].inputIds.length || a - b);
  const bins: { used: number; members: number[] }[] = [];
  const free = new FirstFit(samples.length, maxLength);
  for (const i of order) {
    const n = samples[i].inputIds.length;
    const b = free.take(n);
    if (b === bins.length) bins.push({ used: 0, members: [] });
    bins[b].used += n;
    bins[b].members.push(i);
  }
  let tokens = 0;
  const rows = bins.map((bin) => {
    const inputIds = new Int32Array(bin.used);
    const labels = new Int32Array(bin.used);
    const positionIds = new Int32Array(bin.used);
    const segmentIds = new Int32Array(bin.used);
    let at = 0;
    bin.members.forEach((i, seg) => {
      const s = samples[i];
      const n = s.inputIds.length;
      inputIds.set(s.inputIds, at);
      labels.set(s.labels, at);
      labels[at] = -100;
      for (let t = 0; t < n; t++) { positionIds[at + t] = t; segmentIds[at + t] = seg; }
      at += n;
    });
    tokens += bin.used;
    return { inputIds, labels, positionIds, segmentIds };
  });
  return { rows, report: { rows: rows.length, fill: rows.length ? tokens / (rows.length * maxLength) : 0 } };
}

/** First-fit in O(log bins): a max-tree over every bin's free space (unopened bins hold maxLength). */
class FirstFit {
  private readonly size: number;
  private readonly tree: Int32Array;

  constructor(maxBins: number, maxLength: number) {
    this.size = 1;
    while (this.size < Math.max(1, maxBins)) this.size *= 2;
    this.tree = new Int32Array(2 * this.size).fill(maxLength);
  }

  /** The leftmost bin with at least n free, which loses n; bins open left to right. */
  take(n: number): number {
    let node = 1;
    while (node < this.size) node = this.tree[2 * node] >= n ? 2 * node : 2 * node + 1;
    const bin = node - this.size;
    this.tree[node] -= n;
    for (node >>= 1; node >= 1; node >>= 1) this.tree[node] = Math.max(this.tree[2 * node], this.tree[2 * node + 1]);
    return bin;
  }
}
