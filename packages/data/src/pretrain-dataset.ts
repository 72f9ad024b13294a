// The pretraining dataset: fixed-length windows over the concatenated documents of a shard set (packing),
// a train/validation split by document, seeded per-epoch shuffling, and a resumable cursor.
import { permutation, mixSeed } from './random';
import { Cursor, DatasetDescriptor, Sample, SampleDataset, checkCursor } from './sample';
import { ShardSet, openShards } from './shards';

export interface PretrainDatasetOptions {
  /** Tokens per sample (T). */
  seqLen: number;
  /** Shuffle seed; epoch e uses a permutation derived from (seed, e). */
  seed?: number;
  /** Shuffle window order each epoch (default true); false keeps corpus order. */
  shuffle?: boolean;
  /** Which documents: `train`, `val`, or `all` (no split). Default `train`. */
  split?: 'train' | 'val' | 'all';
  /** Fraction of documents held out for validation (rounded, at least 1 when > 0). Default: the manifest's `meta.valFraction`, else 0. */
  valFraction?: number;
  /** Or an exact number of validation documents (wins over valFraction). */
  valDocs?: number;
  /** Seed of the split; kept apart from `seed` so a new shuffle never moves documents between splits. */
  splitSeed?: number;
}

/** Which documents of `totalDocs` are held out: a seeded choice of `count` of them. */
export function validationDocs(totalDocs: number, count: number, splitSeed: number): Uint8Array {
  if (!Number.isInteger(count) || count < 0 || count > totalDocs) throw new Error(`pretrain dataset: ${count} validation documents requested from ${totalDocs}`);
  const isVal = new Uint8Array(totalDocs);
  const p = permutation(totalDocs, mixSeed(splitSeed, 0x5ca1ab1e));
  for (let i = 0; i < count; i++) isVal[p[i]] = 1;
  return isVal;
}

/**
 * Sample i of an epoch is the window of T tokens starting at token w*(T-1) of the split's concatenated documents
 * (EOS-separated as written), w = the epoch's permutation of window numbers. Windows overlap by one token so every
 * adjacent token pair is trained exactly once: labels equal inputIds (the model shifts them, as HF does), so a window
 * trains T-1 next-token predictions.
 */
export class PretrainDataset implements SampleDataset {
  readonly seqLen: number;
  readonly length: number;
  /** Tokens in this split. */
  readonly tokens: number;
  /** Documents in this split. */
  readonly documents: number;
  private cursor: Cursor;
  private readonly shards: ShardSet;
  private readonly opts: Required<Omit<PretrainDatasetOptions, 'valDocs' | 'valFraction'>> & { valDocs: number };
  // Contiguous runs of this split's tokens: shard, first token in the shard, and start in the split's concatenation.
  private readonly segShard: Uint32Array;
  private readonly segStart: Float64Array;
  private readonly segPos: Float64Array;
  private permCache: { epoch: number; seed: number; perm: Uint32Array } | null = null;

  constructor(readonly dir: string, options: PretrainDatasetOptions) {
    const T = options.seqLen;
    if (!Number.isInteger(T) || T < 2) throw new Error(`pretrain dataset: seqLen must be an integer >= 2, got ${T}`);
    this.shards = openShards(dir);
    const N = this.shards.totalDocs;
    // `prepare --val-fraction` records the intended split in the manifest; explicit options win.
    const recorded = this.shards.manifest.meta?.valFraction;
    if (options.valDocs === undefined && options.valFraction === undefined && typeof recorded === 'number') options = { ...options, valFraction: recorded };
    const valDocs = options.valDocs ?? (options.valFraction ? Math.min(N, Math.max(1, Math.round(options.valFraction * N))) : 0);
    if (options.valFraction !== undefined && !(options.valFraction >= 0 && options.valFraction < 1)) throw new Error(`pretrain dataset: valFraction must be in [0, 1), got ${options.valFraction}`);
    this.opts = { seqLen: T, seed: options.seed ?? 0, shuffle: options.shuffle ?? true, split: options.split ?? 'train', splitSeed: options.splitSeed ?? 0, valDocs };
    const isVal = valDocs > 0 ? validationDocs(N, valDocs, this.opts.splitSeed) : new Uint8Array(N);
    const want = this.opts.split === 'val' ? 1 : 0;

    const shard: number[] = [];
    const start: number[] = [];
    const pos: number[] = [];
    let total = 0;
    let docs = 0;
    for (let s = 0; s < this.shards.shards.length; s++) {
      const { docStarts, docCount } = this.shards.shards[s];
      const first = this.shards.firstDoc[s];
      let open = false;
      for (let d = 0; d < docCount; d++) {
        const take = this.opts.split === 'all' || isVal[first + d] === want;
        if (!take) {
          open = false;
          continue;
        }
        docs++;
        // Consecutive documents of one shard form one segment, so windows are read with few reads.
        if (!open) {
          shard.push(s);
          start.push(docStarts[d]);
          pos.push(total);
          open = true;
        }
        total += docStarts[d + 1] - docStarts[d];
      }
    }
    pos.push(total);
    this.segShard = Uint32Array.from(shard);
    this.segStart = Float64Array.from(start);
    this.segPos = Float64Array.from(pos);
    this.tokens = total;
    this.documents = docs;
    this.seqLen = T;
    this.length = total >= T ? Math.floor((total - T) / (T - 1)) + 1 : 0;
    if (this.length > 0xffffffff) throw new Error('pretrain dataset: more than 2^32 windows; use a longer seqLen');
    this.cursor = { epoch: 0, index: 0, seed: this.opts.seed };
  }

  get seed(): number {
    return this.cursor.seed;
  }

  private order(epoch: number, seed: number): Uint32Array | null {
    if (!this.opts.shuffle) return null;
    const c = this.permCache;
    if (c && c.epoch === epoch && c.seed === seed) return c.perm;
    const perm = permutation(this.length, mixSeed(seed, epoch));
    this.permCache = { epoch, seed, perm };
    return perm;
  }

  /** Tokens [pos, pos + out.length) of the split's concatenation. */
  private readTokens(pos: number, out: Int32Array): void {
    let lo = 0;
    let hi = this.segShard.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segPos[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    let done = 0;
    for (let s = lo; done < out.length; s++) {
      const from = pos + done - this.segPos[s];
      const n = Math.min(out.length - done, this.segPos[s + 1] - this.segPos[s] - from);
      this.shards.readInto(this.segShard[s], this.segStart[s] + from, n, out, done);
      done += n;
    }
  }

  sampleAt(epoch: number, index: number, seed = this.cursor.seed): Sample {
    if (!(index >= 0 && index < this.length)) throw new RangeError(`pretrain dataset: sample ${index} out of range [0, ${this.length})`);
    const perm = this.order(epoch, seed);
    const w = perm ? perm[index] : index;
    const T = this.seqLen;
    const inputIds = new Int32Array(T);
    this.readTokens(w * (T - 1), inputIds);
    const positionIds = new Int32Array(T);
    for (let i = 0; i < T; i++) positionIds[i] = i;
    return { inputIds, labels: inputIds.slice(), attentionMask: new Uint8Array(T).fill(1), positionIds };
  }

  /** The next sample in cursor order (epochs run on forever; see BatchLoader's `epochs` to stop). */
  next(): Sample {
    if (this.length === 0) throw new Error(`pretrain dataset: the ${this.opts.split} split has ${this.tokens} tokens, fewer than seqLen ${this.seqLen}`);
    if (this.cursor.index >= this.length) this.cursor = { epoch: this.cursor.epoch + 1, index: 0, seed: this.cursor.seed };
    const s = this.sampleAt(this.cursor.epoch, this.cursor.index);
    this.cursor = { ...this.cursor, index: this.cursor.index + 1 };
    return s;
  }

  state(): Cursor {
    return { ...this.cursor };
  }

  restore(c: Cursor): void {
    this.cursor = checkCursor(c, 'pretrain dataset restore');
  }

  describe(): DatasetDescriptor {
    const { seqLen, seed, shuffle, split, splitSeed, valDocs } = this.opts;
    return { kind: 'pretrain', dir: this.dir, options: { seqLen, seed, shuffle, split, splitSeed, valDocs } };
  }

  close(): void {
    this.shards.close();
  }
}

/** Reopens a dataset from its descriptor (in the loader's worker). SFT and other kinds register here later. */
export function openDataset(d: DatasetDescriptor): SampleDataset {
  if (d.kind === 'pretrain') return new PretrainDataset(d.dir as string, d.options as PretrainDatasetOptions);
  throw new Error(`openDataset: unknown dataset kind ${JSON.stringify(d.kind)}`);
}
