// A BatchSource over batches built in memory, with a cursor that checkpoints save and restore.
import type { Batch, BatchSource } from '../../src';

export class MemorySource implements BatchSource {
  private i = 0;
  constructor(private readonly batches: Batch[], private readonly epochs = Infinity) {}
  next(): Batch | null {
    if (this.i >= this.batches.length * this.epochs) return null;
    return this.batches[this.i++ % this.batches.length];
  }
  state(): unknown { return { i: this.i }; }
  restore(s: unknown): void { this.i = (s as { i: number }).i; }
}

/** Deterministic token batches (B, T) over a vocabulary, labels = inputs (the model shifts). */
export function makeBatches(n: number, B: number, T: number, vocab: number, seed = 1): Batch[] {
  let x = seed;
  const rnd = () => { x = (x * 1103515245 + 12345) % 2147483648; return x; };
  return Array.from({ length: n }, () => {
    const ids = Int32Array.from({ length: B * T }, (_, k) => (k % T === 0 ? 1 : (rnd() % vocab)));
    return { inputIds: ids, labels: Int32Array.from(ids), batchSize: B, seqLen: T };
  });
}
