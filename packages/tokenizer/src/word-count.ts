// The trainer's first pass: count pre-tokenized pieces of texts streamed in chunks to this thread and worker threads, then sum their tables.
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { countTexts, mergeTables } from './count-core.cjs';
import type { CorpusReader } from './corpus/read';

export interface CountOptions {
  /** Split regex, already compiled for JS (see `compilePattern`). */
  splitRe: RegExp;
  /** Matches special tokens, which are cut out of the text before splitting; null when there are none. */
  specialRe: RegExp | null;
  /** Counting threads; 1 counts in the calling thread. Default `os.availableParallelism()`. */
  numThreads?: number;
  /**
   * Cap on distinct pieces per table. Past it the rarest entries (count 1 first) are dropped, as
   * SentencePiece and HF do for huge corpora: counts become approximate, but only once the cap is hit.
   */
  maxWords?: number;
  /** Texts are sent to workers in chunks of about this many UTF-16 code units (default 1M, ~1-2 MB of UTF-8). */
  chunkChars?: number;
  /** Called after each chunk is handed out, with the number of texts read so far. */
  onChunk?: (texts: number) => void;
}

export interface CountResult {
  /** Piece (raw text) -> occurrences. */
  counts: Map<string, number>;
  texts: number;
  /** Entries dropped by the `maxWords` cap; 0 means the counts are exact. */
  pruned: number;
  /** Worker threads started: numThreads - 1 once the input fills a chunk, else 0. */
  workers: number;
}

const DEFAULT_CHUNK_CHARS = 1 << 20;
/** Chunks queued per worker before the reader waits: keeps at most this many chunks in flight each. */
const IN_FLIGHT = 2;

/**
 * Counts the pre-tokenized pieces of every text. Texts are consumed as they arrive and never kept
 * beyond the chunk being counted, so memory is O(distinct pieces) (times the number of threads,
 * each of which keeps its own table until the end). Chunks are counted by this thread and
 * numThreads - 1 workers; input smaller than one chunk never starts a worker.
 */
export async function countWords(texts: Iterable<string> | AsyncIterable<string> | CorpusReader, opts: CountOptions): Promise<CountResult> {
  const numThreads = opts.numThreads ?? os.availableParallelism();
  const maxWords = opts.maxWords ?? Infinity;
  const chunkChars = opts.chunkChars ?? DEFAULT_CHUNK_CHARS;
  if (!Number.isInteger(numThreads) || numThreads < 1) throw new Error(`countWords: numThreads must be a positive integer, got ${numThreads}`);
  if (maxWords !== Infinity && (!Number.isInteger(maxWords) || maxWords < 1)) throw new Error(`countWords: maxWords must be a positive integer, got ${maxWords}`);

  const table = new Map<string, number>();
  let pool: CountPool | null = null;
  let pruned = 0;
  let nTexts = 0;
  let chunk: string[] = [];
  let chunkSize = 0;
  // The calling thread counts too (N threads use N cores, with no reader thread competing with N counters).
  // A chunk goes to a worker with room in its queue, else is counted here, so a thread that gets less CPU
  // (a shared host) gets less work. With a maxWords cap, pruning depends on which thread saw what, so the
  // chunks then go strictly round-robin to keep capped results reproducible.
  let turn = 0;
  const flush = async () => {
    // Workers start with the first full chunk, so they boot while this thread counts it.
    if (numThreads > 1) pool ??= new CountPool(numThreads - 1, opts.splitRe, opts.specialRe, maxWords);
    if (pool && maxWords === Infinity) {
      const w = pool.freeWorker();
      if (w < 0) pruned += countTexts(table, chunk, opts.splitRe, opts.specialRe, maxWords);
      else await pool.send(w, chunk);
    } else {
      if (turn === 0) pruned += countTexts(table, chunk, opts.splitRe, opts.specialRe, maxWords);
      else await pool!.send(turn - 1, chunk);
      turn = (turn + 1) % numThreads;
    }
    chunk = [];
    chunkSize = 0;
    opts.onChunk?.(nTexts);
  };
  try {
    for await (const batch of inBatches(texts)) {
      for (const text of batch) {
        if (typeof text !== 'string') throw new Error(`countWords: text ${nTexts} is a ${typeof text}, not a string`);
        chunk.push(text);
        chunkSize += text.length;
        nTexts++;
        if (chunkSize >= chunkChars) await flush();
      }
    }
    // A last (or only) partial chunk is counted here rather than shipped to a worker.
    pruned += countTexts(table, chunk, opts.splitRe, opts.specialRe, maxWords);
    opts.onChunk?.(nTexts);
    const p = pool as CountPool | null;
    if (p) {
      for (const part of await p.finish()) {
        pruned += part.pruned;
        pruned += mergeTables(table, part.table, maxWords);
      }
    }
    return { counts: table, texts: nTexts, pruned, workers: p ? numThreads - 1 : 0 };
  } finally {
    (pool as CountPool | null)?.destroy();
  }
}

/** A corpus reader's own batches (no per-text await), or any iterable as batches of one. */
async function* inBatches(texts: Iterable<string> | AsyncIterable<string> | CorpusReader): AsyncGenerator<readonly string[]> {
  // A bare string is one text, not an iterable of characters.
  if (typeof texts === 'string' || Array.isArray(texts)) yield typeof texts === 'string' ? [texts] : texts;
  else if ('batches' in texts && typeof texts.batches === 'function') yield* texts.batches();
  else for await (const t of texts as AsyncIterable<string>) yield [t];
}

/** Where count-worker.cjs sits: next to this module in src/ and dist/, one level up from dist/cli/. */
function workerFile(): string {
  for (const dir of [__dirname, path.join(__dirname, '..')]) {
    const f = path.join(dir, 'count-worker.cjs');
    if (fs.existsSync(f)) return f;
  }
  throw new Error(`countWords: count-worker.cjs not found next to ${__dirname}`);
}

interface WorkerSlot {
  worker: Worker;
  inFlight: number;
  /** Resolves the reader when this worker acknowledges a chunk. */
  wake: (() => void) | null;
  result: Promise<{ table: Map<string, number>; pruned: number }>;
}

/** Counting workers, each with at most IN_FLIGHT unacknowledged chunks. */
class CountPool {
  private readonly slots: WorkerSlot[] = [];
  private failure: Error | null = null;

  constructor(n: number, splitRe: RegExp, specialRe: RegExp | null, maxWords: number) {
    const file = workerFile();
    const workerData = {
      split: { source: splitRe.source, flags: splitRe.flags },
      special: specialRe ? { source: specialRe.source, flags: specialRe.flags } : null,
      maxWords,
    };
    for (let i = 0; i < n; i++) {
      const worker = new Worker(file, { workerData });
      const slot: WorkerSlot = { worker, inFlight: 0, wake: null, result: null! };
      slot.result = new Promise((resolve, reject) => {
        worker.on('message', (msg: { ack?: boolean; table?: Map<string, number>; pruned?: number }) => {
          if (msg.ack) {
            slot.inFlight--;
            const w = slot.wake;
            slot.wake = null;
            w?.();
          } else if (msg.table) resolve({ table: msg.table, pruned: msg.pruned ?? 0 });
        });
        const fail = (e: Error) => {
          this.failure ??= e;
          reject(e);
          for (const s of this.slots) s.wake?.();
        };
        worker.on('error', fail);
        worker.on('exit', (code) => fail(new Error(`countWords: counting worker exited (code ${code}) before returning its counts`)));
      });
      // Failures surface through send() / finish(); this keeps an early one from being reported as unhandled.
      slot.result.catch(() => {});
      this.slots.push(slot);
    }
  }

  /** The worker with the fewest queued chunks if it has room for one more, else -1. */
  freeWorker(): number {
    let best = -1;
    this.slots.forEach((s, i) => {
      if (s.inFlight < IN_FLIGHT && (best < 0 || s.inFlight < this.slots[best].inFlight)) best = i;
    });
    return best;
  }

  async send(worker: number, texts: string[]): Promise<void> {
    const slot = this.slots[worker];
    while (slot.inFlight >= IN_FLIGHT && !this.failure) await new Promise<void>((r) => (slot.wake = r));
    if (this.failure) throw this.failure;
    slot.inFlight++;
    slot.worker.postMessage({ texts });
  }

  /** Each worker's table, in worker order. */
  async finish(): Promise<{ table: Map<string, number>; pruned: number }[]> {
    for (const s of this.slots) s.worker.postMessage({ finish: true });
    return Promise.all(this.slots.map((s) => s.result));
  }

  destroy(): void {
    for (const s of this.slots) {
      s.worker.removeAllListeners('exit');
      void s.worker.terminate();
    }
  }
}
