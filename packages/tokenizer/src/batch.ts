// Batch encoding into model-ready typed arrays (B x T ids + attention mask), split over worker threads for big batches.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { EncodeOptions, PaddingOptions } from './encoding';
import type { Tokenizer } from './tokenizer';

export interface BatchEncodeOptions extends Pick<EncodeOptions, 'addSpecialTokens' | 'truncation'> {
  /** Default: pad to the longest row, on the right, with the tokenizer's pad token. */
  padding?: PaddingOptions;
  /** Worker threads for a big batch (default `os.availableParallelism()`); 1 encodes in the calling thread. */
  numThreads?: number;
  /**
   * Batches with fewer characters (UTF-16 units) than this are encoded in the calling thread (default 4 Mi: about
   * half a second of work on one thread, against a worker start that costs about one tokenizer load).
   */
  parallelMinChars?: number;
}

/** Row-major B x T arrays, ready to become `input_ids` / `attention_mask` tensors. */
export interface BatchEncoding {
  batchSize: number;
  /** T: the padded row length. */
  length: number;
  /** (B, T) token ids, pads included. */
  ids: Int32Array;
  /** (B, T) 1 for real tokens, 0 for pads. */
  attentionMask: Uint8Array;
  /** (B) real tokens per row (before padding; after truncation and special tokens). */
  lengths: Int32Array;
}

export const DEFAULT_PARALLEL_MIN_CHARS = 1 << 22;

/** Encodes every text in the calling thread and pads the rows into a BatchEncoding. */
export function encodeBatchSync(tok: Tokenizer, texts: readonly string[], opts: BatchEncodeOptions = {}): BatchEncoding {
  return pack(tok, texts.map((t) => tok.encode(t, { addSpecialTokens: opts.addSpecialTokens, truncation: opts.truncation })), opts.padding);
}

/**
 * Like encodeBatchSync; a batch of at least `parallelMinChars` characters is split into contiguous chunks of about
 * equal size, one per worker thread. The workers (cached per tokenizer until `disposeWorkers`) rebuild the tokenizer
 * from its spec once and run the same `encode`, so the result is identical to the single-thread one.
 */
export async function encodeBatch(tok: Tokenizer, texts: readonly string[], opts: BatchEncodeOptions = {}): Promise<BatchEncoding> {
  const threads = Math.max(1, Math.floor(opts.numThreads ?? os.availableParallelism()));
  let chars = 0;
  for (const t of texts) chars += t.length;
  if (threads === 1 || texts.length < 2 || chars < (opts.parallelMinChars ?? DEFAULT_PARALLEL_MIN_CHARS)) return encodeBatchSync(tok, texts, opts);
  const pool = poolFor(tok, threads);
  const encodeOpts = { addSpecialTokens: opts.addSpecialTokens, truncation: opts.truncation };
  const chunks = splitByChars(texts, Math.min(threads, texts.length), chars);
  const parts = await Promise.all(chunks.map((c, i) => pool.run(i % pool.size, texts.slice(c[0], c[1]), encodeOpts)));
  const rows: ArrayLike<number>[] = [];
  for (const { flat, lens } of parts) {
    let at = 0;
    for (const n of lens) {
      rows.push(flat.subarray(at, at + n));
      at += n;
    }
  }
  return pack(tok, rows, opts.padding);
}

/** Terminates the worker threads cached for `tok` (they are unref'd, so an idle pool never keeps a process alive). */
export async function disposeWorkers(tok: Tokenizer): Promise<void> {
  const pool = pools.get(tok);
  if (!pool) return;
  pools.delete(tok);
  reaper.unregister(pool);
  await pool.terminate();
}

function pack(tok: Tokenizer, rows: ArrayLike<number>[], padding: PaddingOptions = { length: 'longest' }): BatchEncoding {
  let longest = 0;
  for (const r of rows) longest = Math.max(longest, r.length);
  if (padding.length !== 'longest' && padding.length < longest) {
    throw new Error(`tokenizer: a row has ${longest} ids, over the padding length ${padding.length} (truncate to it)`);
  }
  const T = padding.length === 'longest' ? longest : padding.length;
  const B = rows.length;
  const ids = new Int32Array(B * T);
  const attentionMask = new Uint8Array(B * T);
  const lengths = new Int32Array(B);
  const anyPad = rows.some((r) => r.length < T);
  const padId = anyPad ? tok.padIdFor(padding.padId) : 0;
  rows.forEach((r, b) => {
    // Left padding puts the real tokens at the end of the row (what decoding a batch wants).
    const start = b * T + (padding.side === 'left' ? T - r.length : 0);
    ids.fill(padId, b * T, (b + 1) * T);
    ids.set(r, start);
    attentionMask.fill(1, start, start + r.length);
    lengths[b] = r.length;
  });
  return { batchSize: B, length: T, ids, attentionMask, lengths };
}

/** [begin, end) ranges of `texts`, `n` contiguous chunks of about equal character count. */
function splitByChars(texts: readonly string[], n: number, total: number): [number, number][] {
  const out: [number, number][] = [];
  let begin = 0;
  let acc = 0;
  for (let i = 0; i < texts.length; i++) {
    acc += texts[i].length;
    const remainingChunks = n - out.length - 1;
    if (remainingChunks > 0 && acc >= (total * (out.length + 1)) / n && texts.length - (i + 1) >= remainingChunks) {
      out.push([begin, i + 1]);
      begin = i + 1;
    }
  }
  out.push([begin, texts.length]);
  return out;
}

/**
 * The worker body. It loads the module that defines Tokenizer: the package's CommonJS bundle when running from
 * dist/, or src/tokenizer.ts compiled on the fly with @swc/core when running from TypeScript sources (jest).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { entry, swc, spec } = workerData;
if (swc) {
  const fs = require('node:fs');
  const Module = require('node:module');
  const { transformSync } = require(swc);
  Module._extensions['.ts'] = (m, filename) => {
    const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { filename, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } });
    m._compile(code, filename);
  };
}
const { Tokenizer } = require(entry);
const tok = new Tokenizer(spec);
parentPort.on('message', ({ job, texts, opts }) => {
  try {
    const rows = texts.map((t) => tok.encode(t, opts));
    const lens = Int32Array.from(rows, (r) => r.length);
    const flat = new Int32Array(lens.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const r of rows) { flat.set(r, at); at += r.length; }
    parentPort.postMessage({ job, flat, lens }, [flat.buffer, lens.buffer]);
  } catch (e) {
    parentPort.postMessage({ job, error: String(e && e.message || e) });
  }
});
`;

/** Where the Tokenizer class lives for a worker: the package's CommonJS bundle, or the TypeScript source next to us. */
function workerEntry(): { entry: string; swc: string | null } {
  const self = __filename;
  if (self.endsWith('.ts')) {
    const req = createRequire(self);
    return { entry: path.join(path.dirname(self), 'tokenizer.ts'), swc: req.resolve('@swc/core') };
  }
  // tsup writes dist/index.js (CommonJS) beside dist/index.mjs and its chunks; a CLI bundle sits one level down.
  const dir = path.dirname(self);
  for (const f of [path.join(dir, 'index.js'), path.join(dir, '..', 'index.js')]) if (fs.existsSync(f)) return { entry: f, swc: null };
  throw new Error(`tokenizer: no CommonJS index.js near ${self} for the batch workers to load`);
}

type Job = { resolve: (v: { flat: Int32Array; lens: Int32Array }) => void; reject: (e: Error) => void; slot: Slot };
interface Slot {
  worker: Worker;
  busy: number;
}

class Pool {
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextJob = 0;
  private failed: Error | null = null;

  private readonly key: WeakRef<Tokenizer>;

  constructor(tok: Tokenizer, readonly size: number) {
    this.key = new WeakRef(tok);
    const { entry, swc } = workerEntry();
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { entry, swc, spec: tok.spec } });
      worker.unref();
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (m: { job: number; flat?: Int32Array; lens?: Int32Array; error?: string }) => {
        const job = this.jobs.get(m.job);
        if (!job) return;
        this.jobs.delete(m.job);
        if (--slot.busy === 0) worker.unref();
        if (m.error !== undefined) job.reject(new Error(`tokenizer worker: ${m.error}`));
        else job.resolve({ flat: m.flat!, lens: m.lens! });
      });
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`tokenizer worker exited with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  run(i: number, texts: string[], opts: EncodeOptions): Promise<{ flat: Int32Array; lens: Int32Array }> {
    if (this.failed) return Promise.reject(this.failed);
    const slot = this.slots[i];
    const job = this.nextJob++;
    return new Promise((resolve, reject) => {
      this.jobs.set(job, { resolve, reject, slot });
      // Keep the process alive only while a job is in flight.
      if (slot.busy++ === 0) slot.worker.ref();
      slot.worker.postMessage({ job, texts, opts });
    });
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const j of this.jobs.values()) j.reject(e);
    this.jobs.clear();
    const tok = this.key.deref();
    if (tok && pools.get(tok) === this) pools.delete(tok);
  }

  async terminate(): Promise<void> {
    this.failed ??= new Error('tokenizer: workers were disposed');
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

const pools = new WeakMap<Tokenizer, Pool>();
/** A tokenizer dropped without dispose() still gets its idle workers stopped once it is garbage-collected. */
const reaper = new FinalizationRegistry<Pool>((pool) => void pool.terminate());

function poolFor(tok: Tokenizer, threads: number): Pool {
  let pool = pools.get(tok);
  if (pool && pool.size !== threads) {
    reaper.unregister(pool);
    void pool.terminate();
    pool = undefined;
  }
  if (!pool) {
    pool = new Pool(tok, threads);
    pools.set(tok, pool);
    reaper.register(tok, pool, pool);
  }
  return pool;
}
