// Token shard sets: writing documents into size-capped shards with a manifest, and opening them with validation.
import fs from 'node:fs';
import path from 'node:path';
import {
  CorruptShardError,
  HEADER_BYTES,
  MAX_SHARD_TOKENS,
  TokenDtype,
  decodeHeader,
  dtypeBytes,
  dtypeForVocab,
  writeShardFile,
} from './shard-format';

export const MANIFEST_FILE = 'manifest.json';

export interface ShardEntry {
  file: string;
  tokens: number;
  docs: number;
  bytes: number;
}

export interface Manifest {
  format: 'stellar-token-shards';
  version: 1;
  dtype: TokenDtype;
  vocabSize: number;
  totalTokens: number;
  totalDocs: number;
  shards: ShardEntry[];
  /** Free-form provenance from the writer (tokenizer hash, eos id, sources, dropped records). */
  meta: Record<string, unknown>;
}

export interface WriteShardsOptions {
  /** A shard is closed before a document would take it past this many tokens (a longer document gets a shard of its own). */
  shardTokens: number;
  vocabSize: number;
  meta?: Record<string, unknown>;
  /** Replace an existing shard set in `outDir` (its files are deleted first). */
  overwrite?: boolean;
}

/** Accumulates documents and flushes full shards; used by writeShards and pretokenize. */
export class ShardWriter {
  private readonly dtype: TokenDtype;
  private buf: Uint32Array;
  private used = 0;
  private starts: number[] = [0];
  private readonly entries: ShardEntry[] = [];
  private totalTokens = 0;
  private totalDocs = 0;

  constructor(private readonly outDir: string, private readonly opts: WriteShardsOptions) {
    if (!Number.isInteger(opts.shardTokens) || opts.shardTokens < 1 || opts.shardTokens >= MAX_SHARD_TOKENS) throw new Error(`writeShards: shardTokens must be an integer in [1, ${MAX_SHARD_TOKENS})`);
    if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 1 || opts.vocabSize > 0xffffffff) throw new Error('writeShards: vocabSize must be a positive integer');
    this.dtype = dtypeForVocab(opts.vocabSize);
    this.buf = new Uint32Array(Math.min(opts.shardTokens, 1 << 20));
    const manifest = path.join(outDir, MANIFEST_FILE);
    if (fs.existsSync(manifest)) {
      if (!opts.overwrite) throw new Error(`writeShards: ${outDir} already holds a shard set (manifest.json); pass overwrite to replace it`);
      const old = JSON.parse(fs.readFileSync(manifest, 'utf8')) as Manifest;
      fs.rmSync(manifest);
      for (const s of old.shards ?? []) fs.rmSync(path.join(outDir, path.basename(s.file)), { force: true });
    }
    fs.mkdirSync(outDir, { recursive: true });
  }

  add(doc: ArrayLike<number>): void {
    const n = doc.length;
    if (n === 0) return;
    if (n >= MAX_SHARD_TOKENS) throw new Error(`writeShards: a document of ${n} tokens does not fit a shard`);
    if (this.used > 0 && this.used + n > this.opts.shardTokens) this.flush();
    if (this.used + n > this.buf.length) {
      const grown = new Uint32Array(Math.max(this.used + n, Math.min(this.buf.length * 2, Math.max(this.opts.shardTokens, this.used + n))));
      grown.set(this.buf.subarray(0, this.used));
      this.buf = grown;
    }
    const v = this.opts.vocabSize;
    for (let i = 0; i < n; i++) {
      const t = doc[i];
      // Checked here so a bad id is reported at its document, not found later by a training run.
      if (!(t >= 0 && t < v && Number.isInteger(t))) throw new Error(`writeShards: document ${this.totalDocs} has token id ${t} at position ${i}, outside [0, ${v})`);
      this.buf[this.used + i] = t;
    }
    this.used += n;
    this.starts.push(this.used);
    this.totalDocs++;
    this.totalTokens += n;
  }

  private flush(): void {
    if (this.used === 0) return;
    const file = `shard-${String(this.entries.length).padStart(5, '0')}.bin`;
    const toks = this.buf.subarray(0, this.used);
    const out = this.dtype === 'uint16' ? Uint16Array.from(toks) : toks;
    writeShardFile(path.join(this.outDir, file), out, Uint32Array.from(this.starts), this.opts.vocabSize);
    this.entries.push({ file, tokens: this.used, docs: this.starts.length - 1, bytes: HEADER_BYTES + 4 * this.starts.length + dtypeBytes(this.dtype) * this.used });
    this.used = 0;
    this.starts = [0];
  }

  /** Flushes the last shard and writes manifest.json (last, atomically: a set without it is incomplete). */
  finish(): Manifest {
    this.flush();
    const manifest: Manifest = {
      format: 'stellar-token-shards',
      version: 1,
      dtype: this.dtype,
      vocabSize: this.opts.vocabSize,
      totalTokens: this.totalTokens,
      totalDocs: this.totalDocs,
      shards: this.entries,
      meta: this.opts.meta ?? {},
    };
    const file = path.join(this.outDir, MANIFEST_FILE);
    fs.writeFileSync(`${file}.tmp-${process.pid}`, JSON.stringify(manifest, null, 2) + '\n');
    fs.renameSync(`${file}.tmp-${process.pid}`, file);
    return manifest;
  }
}

/** Writes documents (token id arrays, in order) into `outDir` as shards plus manifest.json. */
export async function writeShards(docs: AsyncIterable<ArrayLike<number>> | Iterable<ArrayLike<number>>, outDir: string, opts: WriteShardsOptions): Promise<Manifest> {
  const w = new ShardWriter(outDir, opts);
  for await (const d of docs) w.add(d);
  return w.finish();
}

/** One opened shard: its header facts and its document offsets (kept in memory; tokens are read on demand). */
export interface OpenShard {
  file: string;
  tokenCount: number;
  docCount: number;
  docStarts: Uint32Array;
  fd: number;
}

/** A validated shard set. Tokens are read with positioned reads (Node has no mmap); call close() when done. */
export class ShardSet {
  readonly manifest: Manifest;
  readonly shards: OpenShard[];
  /** Global index of each shard's first document (length = shards + 1). */
  readonly firstDoc: number[];
  private readonly width: number;
  private scratch = new Uint8Array(0);

  constructor(readonly dir: string) {
    const mfile = path.join(dir, MANIFEST_FILE);
    if (!fs.existsSync(mfile)) throw new Error(`openShards: ${mfile} not found (not a shard set, or writing did not finish)`);
    let m: Manifest;
    try {
      m = JSON.parse(fs.readFileSync(mfile, 'utf8'));
    } catch (e) {
      throw new Error(`openShards: ${mfile} is not valid JSON (${(e as Error).message})`);
    }
    if (m.format !== 'stellar-token-shards' || m.version !== 1) throw new Error(`openShards: ${mfile} is not a version-1 stellar-token-shards manifest`);
    this.manifest = m;
    this.width = dtypeBytes(m.dtype);
    this.shards = [];
    this.firstDoc = [0];
    try {
      for (const e of m.shards) this.shards.push(this.openOne(e));
    } catch (err) {
      this.close();
      throw err;
    }
    const docs = this.firstDoc[this.firstDoc.length - 1];
    const toks = this.shards.reduce((s, x) => s + x.tokenCount, 0);
    if (docs !== m.totalDocs || toks !== m.totalTokens) {
      this.close();
      throw new Error(`openShards: ${mfile} says ${m.totalTokens} tokens / ${m.totalDocs} documents but the shards hold ${toks} / ${docs}`);
    }
  }

  private openOne(e: ShardEntry): OpenShard {
    const file = path.join(this.dir, path.basename(e.file));
    if (!fs.existsSync(file)) throw new CorruptShardError(file, 'listed in manifest.json but missing');
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const head = Buffer.alloc(HEADER_BYTES);
      fs.readSync(fd, head, 0, HEADER_BYTES, 0);
      const h = decodeHeader(head, file, size);
      const bad = (p: string) => new CorruptShardError(file, p);
      if (h.dtype !== this.manifest.dtype) throw bad(`dtype ${h.dtype} differs from the manifest's ${this.manifest.dtype}`);
      if (h.vocabSize !== this.manifest.vocabSize) throw bad(`vocabulary size ${h.vocabSize} differs from the manifest's ${this.manifest.vocabSize}`);
      if (h.tokenCount !== e.tokens || h.docCount !== e.docs) throw bad(`holds ${h.tokenCount} tokens / ${h.docCount} documents, the manifest says ${e.tokens} / ${e.docs}`);
      const idx = new Uint8Array(4 * (h.docCount + 1));
      fs.readSync(fd, idx, 0, idx.length, HEADER_BYTES);
      const starts = new Uint32Array(idx.buffer);
      if (starts[0] !== 0) throw bad(`document index starts at ${starts[0]}, not 0`);
      if (starts[h.docCount] !== h.tokenCount) throw bad(`document index ends at ${starts[h.docCount]}, not at the token count ${h.tokenCount}`);
      for (let i = 1; i <= h.docCount; i++) {
        if (starts[i] <= starts[i - 1]) throw bad(`document index is not increasing at document ${i - 1} (${starts[i - 1]} then ${starts[i]})`);
      }
      this.firstDoc.push(this.firstDoc[this.firstDoc.length - 1] + h.docCount);
      return { file, tokenCount: h.tokenCount, docCount: h.docCount, docStarts: starts, fd };
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  get totalTokens(): number {
    return this.manifest.totalTokens;
  }

  get totalDocs(): number {
    return this.manifest.totalDocs;
  }

  get vocabSize(): number {
    return this.manifest.vocabSize;
  }

  /** Shard number and token range [start, end) of global document `doc`. */
  docLocation(doc: number): { shard: number; start: number; end: number } {
    if (!(doc >= 0 && doc < this.totalDocs)) throw new RangeError(`document ${doc} out of range [0, ${this.totalDocs})`);
    let lo = 0;
    let hi = this.shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.firstDoc[mid] <= doc) lo = mid;
      else hi = mid - 1;
    }
    const s = this.shards[lo];
    const d = doc - this.firstDoc[lo];
    return { shard: lo, start: s.docStarts[d], end: s.docStarts[d + 1] };
  }

  /** Copies tokens [start, start + count) of shard `shard` into `out` at `outOffset`. */
  readInto(shard: number, start: number, count: number, out: Int32Array | Uint32Array, outOffset = 0): void {
    const s = this.shards[shard];
    if (start < 0 || count < 0 || start + count > s.tokenCount) throw new RangeError(`${s.file}: token range [${start}, ${start + count}) outside [0, ${s.tokenCount})`);
    const bytes = count * this.width;
    if (this.scratch.length < bytes) this.scratch = new Uint8Array(Math.max(bytes, 2 * this.scratch.length));
    const pos = HEADER_BYTES + 4 * (s.docCount + 1) + start * this.width;
    let got = 0;
    while (got < bytes) {
      const n = fs.readSync(s.fd, this.scratch, got, bytes - got, pos + got);
      if (n === 0) throw new CorruptShardError(s.file, `unexpected end of file reading tokens [${start}, ${start + count})`);
      got += n;
    }
    const src = this.width === 2 ? new Uint16Array(this.scratch.buffer, 0, count) : new Uint32Array(this.scratch.buffer, 0, count);
    out.set(src, outOffset);
  }

  /** Tokens of global document `doc`. */
  readDoc(doc: number): Uint32Array {
    const { shard, start, end } = this.docLocation(doc);
    const out = new Uint32Array(end - start);
    this.readInto(shard, start, end - start, out);
    return out;
  }

  /** Reads every token and checks it is below the vocabulary size (slow: a full pass over the data). */
  validateTokens(): void {
    const chunk = 1 << 20;
    const buf = new Uint32Array(chunk);
    const v = this.manifest.vocabSize;
    this.shards.forEach((s, i) => {
      for (let start = 0; start < s.tokenCount; start += chunk) {
        const n = Math.min(chunk, s.tokenCount - start);
        this.readInto(i, start, n, buf);
        for (let k = 0; k < n; k++) {
          if (buf[k] >= v) throw new CorruptShardError(s.file, `token ${start + k} is id ${buf[k]}, not below the vocabulary size ${v}`);
        }
      }
    });
  }

  close(): void {
    for (const s of this.shards) {
      if (s.fd >= 0) fs.closeSync(s.fd);
      s.fd = -1;
    }
  }
}

/** Opens and validates a shard set written by writeShards / pretokenize. */
export function openShards(dir: string, opts: { validateTokens?: boolean } = {}): ShardSet {
  const set = new ShardSet(dir);
  if (opts.validateTokens) {
    try {
      set.validateTokens();
    } catch (e) {
      set.close();
      throw e;
    }
  }
  return set;
}
