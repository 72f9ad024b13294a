// An open-addressing hash table from an id pair (left, right) to an int (the merge rank): typed arrays, no boxing,
// so building it for Llama-3's 280k merges and probing it in the BPE loop stay cheap.

export class PairTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly value: Int32Array;
  private readonly mask: number;

  /** Room for `capacity` pairs (the table is sized to at most half full). */
  constructor(capacity: number) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.left = new Int32Array(size).fill(-1);
    this.right = new Int32Array(size);
    this.value = new Int32Array(size);
    this.mask = size - 1;
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0 & this.mask;
  }

  /** The value stored for (a, b), or -1. Ids are non-negative. */
  get(a: number, b: number): number {
    for (let i = this.slot(a, b); ; i = (i + 1) & this.mask) {
      const l = this.left[i];
      if (l === -1) return -1;
      if (l === a && this.right[i] === b) return this.value[i];
    }
  }

  /** Stores `v` for (a, b) unless the pair is already there (the first value wins); returns whether it was added. */
  setIfAbsent(a: number, b: number, v: number): boolean {
    for (let i = this.slot(a, b); ; i = (i + 1) & this.mask) {
      const l = this.left[i];
      if (l === -1) {
        this.left[i] = a;
        this.right[i] = b;
        this.value[i] = v;
        return true;
      }
      if (l === a && this.right[i] === b) return false;
    }
  }
}
