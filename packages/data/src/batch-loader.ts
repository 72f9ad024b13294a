// BatchLoader: batches from a dataset in cursor order, optionally prefetched by a worker thread, resumable by state().
import type { Worker } from 'node:worker_threads';
import { BatchingOptions, nextBatch } from './batch-order';
import { Batch } from './collate';
import { Cursor, SampleDataset, checkCursor } from './sample';
import { spawnWorker } from './spawn-worker';

export interface BatchLoaderOptions extends BatchingOptions {
  /**
   * Batches assembled ahead by a worker thread (it reads the shards; the main thread only receives the
   * transferred buffers). 0 assembles each batch on the calling thread when asked. Default 2.
   */
  prefetch?: number;
  /** Start here instead of at the dataset's cursor. */
  cursor?: Cursor;
}

type Msg = { batch: Batch; after: Cursor } | { done: true } | { error: string };

export class BatchLoader implements AsyncIterable<Batch> {
  private readonly batching: BatchingOptions;
  private readonly prefetch: number;
  /** Cursor after the last batch handed to the caller: what state() returns. */
  private consumed: Cursor;
  private worker: Worker | null = null;
  private queue: Msg[] = [];
  private waiting: ((m: Msg) => void) | null = null;
  private finished = false;

  constructor(private readonly dataset: SampleDataset, opts: BatchLoaderOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new Error(`BatchLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    this.batching = { batchSize: opts.batchSize, dropLast: opts.dropLast ?? true, epochs: opts.epochs ?? Infinity, padId: opts.padId ?? 0 };
    this.prefetch = opts.prefetch ?? 2;
    if (!Number.isInteger(this.prefetch) || this.prefetch < 0) throw new Error(`BatchLoader: prefetch must be a non-negative integer, got ${opts.prefetch}`);
    const ds = dataset as SampleDataset & { state?: () => Cursor };
    this.consumed = opts.cursor ? checkCursor(opts.cursor, 'BatchLoader') : ds.state ? ds.state() : { epoch: 0, index: 0, seed: dataset.seed };
  }

  /** Where the next batch comes from. Prefetched batches not yet returned by next() are not counted. */
  state(): Cursor {
    return { ...this.consumed };
  }

  /** Continue from a saved state (drops anything prefetched). */
  restore(c: Cursor): void {
    this.stopWorker();
    this.consumed = checkCursor(c, 'BatchLoader restore');
    this.finished = false;
  }

  private chain: Promise<unknown> = Promise.resolve();

  /** The next batch, or null after the last epoch. Calls made before the previous one settled are served in order. */
  next(): Promise<Batch | null> {
    const p = this.chain.then(() => this.nextInOrder());
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async nextInOrder(): Promise<Batch | null> {
    if (this.finished) return null;
    if (this.prefetch === 0) return this.take(this.local());
    if (!this.worker) this.startWorker();
    const m = this.queue.shift() ?? (await new Promise<Msg>((r) => (this.waiting = r)));
    if ('batch' in m) this.worker!.postMessage({ more: 1 });
    return this.take(m);
  }

  private local(): Msg {
    const r = nextBatch(this.dataset, this.consumed, this.batching);
    return r ?? { done: true };
  }

  private take(m: Msg): Batch | null {
    if ('error' in m) {
      this.stopWorker();
      throw new Error(`BatchLoader worker: ${m.error}`);
    }
    if ('done' in m) {
      this.finished = true;
      this.stopWorker();
      return null;
    }
    this.consumed = m.after;
    return m.batch;
  }

  private startWorker(): void {
    const w = spawnWorker('loader-worker', { dataset: this.dataset.describe(), cursor: this.consumed, batching: this.batching });
    const push = (m: Msg) => {
      const waiter = this.waiting;
      this.waiting = null;
      if (waiter) waiter(m);
      else this.queue.push(m);
    };
    w.on('message', push);
    w.on('error', (e) => push({ error: e.message }));
    w.on('exit', (code) => {
      if (this.worker === w) push({ error: `worker exited with code ${code}` });
    });
    this.worker = w;
    w.postMessage({ more: this.prefetch });
  }

  private stopWorker(): void {
    if (this.worker) {
      this.worker.removeAllListeners();
      void this.worker.terminate();
    }
    this.worker = null;
    this.queue = [];
    this.waiting = null;
  }

  /** Stops the prefetch worker; the loader can continue later (a new worker starts at state()). */
  close(): void {
    this.stopWorker();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    try {
      for (let b = await this.next(); b; b = await this.next()) yield b;
    } finally {
      this.close();
    }
  }
}
