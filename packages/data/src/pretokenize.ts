// Corpus -> token shards: documents are encoded in parallel worker threads and written in input order.
import crypto from 'node:crypto';
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { Tokenizer, toTokenizerConfig, toTokenizerJson } from '@stellar/tokenizer';
import { DocumentOptions, readDocuments } from './documents';
import { encodeChunk, EncodedChunk } from './encode-chunk';
import { totalBytes } from './files';
import { ProgressBar } from './progress';
import { BadRecordReport, RecordStream } from './readers';
import { Manifest, ShardWriter } from './shards';
import { spawnWorker } from './spawn-worker';

export interface PretokenizeOptions extends DocumentOptions {
  /**
   * Worker threads that encode; the calling thread also encodes a chunk whenever every worker already
   * has its queue full, so `cores - 1` workers (the default) keep every core busy without paying a
   * worker's start-up and cold caches for the last one. 0 encodes on the calling thread only.
   */
  numWorkers?: number;
  /** Let the calling thread encode when the workers are saturated (default true). */
  mainThreadEncodes?: boolean;
  /** Tokens per shard (default 2^24 = 16M). */
  shardTokens?: number;
  /** Characters of text sent to a worker at once (default 256K). */
  chunkChars?: number;
  /** Progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  overwrite?: boolean;
  /** Extra manifest metadata. */
  meta?: Record<string, unknown>;
}

export interface PretokenizeSummary {
  documents: number;
  tokens: number;
  /** Bad records skipped by the `skip` policy (see `badRecords` for the first messages). */
  droppedRecords: number;
  badRecords: BadRecordReport;
  /** Input bytes read (file sizes; UTF-8 bytes of the texts for an iterable input). */
  bytes: number;
  seconds: number;
  mbPerSecond: number;
  /** Chunks of documents encoded, and how many of them the calling thread encoded itself. */
  chunks: number;
  mainThreadChunks: number;
  manifest: Manifest;
}

/** sha256 of the tokenizer.json content, recorded in the manifest so a training run can check it uses the same tokenizer. */
export function tokenizerHash(tok: Tokenizer): string {
  return crypto.createHash('sha256').update(JSON.stringify(toTokenizerJson(tok))).digest('hex');
}

function eosIdOf(tok: Tokenizer): number {
  const id = tok.eosToken === null ? undefined : tok.tokenToId(tok.eosToken);
  if (id === undefined) throw new Error('pretokenize: the tokenizer has no eos_token; documents are separated by EOS, so set one');
  return id;
}

type Encoder = { encode(seq: number, texts: string[]): void; close(): Promise<void> };

/** Encodes on the caller's thread (numWorkers 0), through the same ordered-delivery path as the workers. */
function inlineEncoder(tok: Tokenizer, eosId: number, deliver: (seq: number, r: EncodedChunk) => void): Encoder {
  return { encode: (seq, texts) => deliver(seq, encodeChunk(tok, texts, eosId)), close: async () => {} };
}

function workerEncoder(n: number, tok: Tokenizer, eosId: number, deliver: (seq: number, r: EncodedChunk) => void, fail: (e: Error) => void): Encoder & { inflight(): number } {
  const data = { tokenizerJson: toTokenizerJson(tok), tokenizerConfig: toTokenizerConfig(tok), eosId };
  const workers: Worker[] = [];
  const load: number[] = [];
  let inflight = 0;
  for (let i = 0; i < n; i++) {
    const w = spawnWorker('pretokenize-worker', data);
    w.on('message', (m: { seq: number; tokens: Uint32Array; lengths: Uint32Array }) => {
      inflight--;
      load[i]--;
      deliver(m.seq, { tokens: m.tokens, lengths: m.lengths });
    });
    w.on('error', fail);
    w.on('exit', (code) => {
      if (code !== 0 && load[i] > 0) fail(new Error(`pretokenize: worker ${i} exited with code ${code}`));
    });
    workers.push(w);
    load.push(0);
  }
  return {
    inflight: () => inflight,
    encode(seq, texts) {
      // The least-loaded worker; order of results is restored by sequence number, so the choice does not matter.
      let best = 0;
      for (let i = 1; i < n; i++) if (load[i] < load[best]) best = i;
      load[best]++;
      inflight++;
      workers[best].postMessage({ seq, texts });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** Paths/globs/directories, a reader's stream, or texts given directly as `{ texts }`. */
export type PretokenizeInput = string | readonly string[] | RecordStream<string> | { texts: AsyncIterable<string> | Iterable<string> };

/**
 * Reads documents from `inputs` (files/globs, a reader's stream, or `{ texts }`), encodes each with `tokenizer`, appends EOS,
 * and writes shards + manifest.json into `outDir`. Output bytes do not depend on `numWorkers`.
 */
export async function pretokenize(
  inputs: PretokenizeInput,
  tokenizer: Tokenizer,
  outDir: string,
  opts: PretokenizeOptions = {},
): Promise<PretokenizeSummary> {
  const t0 = process.hrtime.bigint();
  const eosId = eosIdOf(tokenizer);
  const numWorkers = opts.numWorkers ?? defaultWorkers();
  const chunkChars = opts.chunkChars ?? 1 << 18;
  const counts = { bytes: 0, tokens: 0, docs: 0 };
  const fromFiles = typeof inputs === 'string' || Array.isArray(inputs);
  const stream = fromFiles ? readDocuments(inputs as string | string[], { ...opts, onBytes: (b) => (counts.bytes += b) }) : null;
  const total = stream ? totalBytes(stream.files) : undefined;
  const bar = new ProgressBar(total, (opts.progress ?? process.stderr.isTTY) ? process.stderr : null);
  const report = stream?.report ?? (isRecordStream(inputs) ? inputs.report : new BadRecordReport());

  const writer = new ShardWriter(outDir, {
    shardTokens: opts.shardTokens ?? 1 << 24,
    vocabSize: tokenizer.vocabSize,
    overwrite: opts.overwrite,
    meta: { tokenizerSha256: tokenizerHash(tokenizer), eosTokenId: eosId, eosToken: tokenizer.eosToken, ...(opts.meta ?? {}) },
  });

  // Results may arrive out of order; they are written strictly by sequence number.
  const pending = new Map<number, EncodedChunk>();
  let nextToWrite = 0;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const signal = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const deliver = (seq: number, r: EncodedChunk) => {
    pending.set(seq, r);
    try {
      for (let c = pending.get(nextToWrite); c; c = pending.get(nextToWrite)) {
        pending.delete(nextToWrite++);
        let off = 0;
        for (const len of c.lengths) {
          writer.add(c.tokens.subarray(off, off + len));
          off += len;
          counts.docs++;
        }
        counts.tokens += c.tokens.length;
      }
    } catch (e) {
      failure = e as Error;
    }
    bar.update(counts);
    signal();
  };
  const fail = (e: Error) => {
    failure ??= e;
    signal();
  };
  const pool = numWorkers > 0 ? workerEncoder(numWorkers, tokenizer, eosId, deliver, fail) : null;
  const enc: Encoder = pool ?? inlineEncoder(tokenizer, eosId, deliver);
  const maxInflight = 2 * Math.max(1, numWorkers);
  const waitUntil = async (cond: () => boolean) => {
    while (!cond() && !failure) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
  };

  let seq = 0;
  let mainChunks = 0;
  try {
    let texts: string[] = [];
    let chars = 0;
    const mainHelps = opts.mainThreadEncodes ?? true;
    const send = async () => {
      if (texts.length === 0) return;
      if (pool && pool.inflight() >= maxInflight) {
        // every worker has a chunk queued behind the one it is encoding: this thread takes the next one
        if (mainHelps) {
          mainChunks++;
          deliver(seq++, encodeChunk(tokenizer, texts, eosId));
          // let the workers' finished results in before deciding who encodes the next chunk
          await new Promise<void>((r) => setImmediate(r));
        } else { await waitUntil(() => pool.inflight() < maxInflight); enc.encode(seq++, texts); }
      } else enc.encode(seq++, texts);
      if (failure) throw failure;
      texts = [];
      chars = 0;
    };
    const source = stream ?? ('texts' in (inputs as object) ? (inputs as { texts: AsyncIterable<string> | Iterable<string> }).texts : (inputs as RecordStream<string>));
    for await (const item of source) {
      const text = typeof item === 'string' ? item : (item as { value: string }).value;
      if (!fromFiles) counts.bytes += Buffer.byteLength(text);
      if (text.length === 0) continue;
      texts.push(text);
      chars += text.length;
      if (chars >= chunkChars) await send();
    }
    await send();
    await waitUntil(() => nextToWrite === seq);
  } finally {
    await enc.close();
  }
  const manifest = writer.finish();
  bar.done(counts);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    documents: counts.docs,
    tokens: counts.tokens,
    droppedRecords: report.count,
    badRecords: report,
    bytes: counts.bytes,
    seconds,
    mbPerSecond: counts.bytes / 1e6 / seconds,
    chunks: seq,
    mainThreadChunks: pool ? mainChunks : seq,
    manifest,
  };
}

/** One worker per core but one: the calling thread is the last encoder. */
export function defaultWorkers(): number {
  return Math.max(0, os.availableParallelism() - 1);
}

function isRecordStream(x: unknown): x is RecordStream<string> {
  return typeof x === 'object' && x !== null && 'report' in x && (x as RecordStream<string>).report instanceof BadRecordReport;
}
