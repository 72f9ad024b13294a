// BPE merging of one pre-tokenized piece the way HF `tokenizers` does it (its Word::merge_all): a min-queue of
// (rank, position) candidates over a linked list of symbols, so a long piece costs O(n log n), not O(n^2).
import type { PairTable } from './pair-table';

/** Queue keys pack (rank, position) into one float64: rank * 2^26 + position, both exact below 2^53. */
const POS = 2 ** 26;

/**
 * Merges `ids` (the piece's byte ids) in place of a copy and returns the merged ids. `rankOf(a, b)` gives a pair's
 * merge rank (-1: none); `merged[rank]` the id it becomes. The lowest rank goes first, the leftmost on ties; a
 * candidate whose symbols changed since it was queued is dropped, as in HF.
 */
export function mergePiece(ids: number[], ranks: PairTable, merged: Int32Array): number[] {
  const n = ids.length;
  if (n < 2) return ids.slice();
  if (n >= POS) throw new Error(`tokenizer: a pre-tokenized piece of ${n} bytes is too long to merge`);
  const sym = Int32Array.from(ids);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  const heap: number[] = [];
  const push = (key: number) => {
    let i = heap.length;
    heap.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p] <= key) break;
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = key;
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const c = l + 1 < heap.length && heap[l + 1] < heap[l] ? l + 1 : l;
        if (heap[c] >= last) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
    }
    return top;
  };
  for (let i = 0; i + 1 < n; i++) {
    const r = ranks.get(sym[i], sym[i + 1]);
    if (r >= 0) push(r * POS + i);
  }
  while (heap.length > 0) {
    const key = pop();
    const rank = Math.floor(key / POS);
    const pos = key - rank * POS;
    const right = next[pos];
    // Stale: the left symbol was merged into its neighbour, it has no right neighbour, or the pair changed.
    if (!alive[pos] || right < 0 || ranks.get(sym[pos], sym[right]) !== rank) continue;
    sym[pos] = merged[rank];
    alive[right] = 0;
    next[pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = pos;
    const p = prev[pos];
    if (p >= 0) {
      const r = ranks.get(sym[p], sym[pos]);
      if (r >= 0) push(r * POS + p);
    }
    const q = next[pos];
    if (q >= 0) {
      const r = ranks.get(sym[pos], sym[q]);
      if (r >= 0) push(r * POS + pos);
    }
  }
  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
  return out;
}
