// Parquet reader: one text column of many files as a record stream, decoded off the main thread by hyparquet.
import fs from 'node:fs';
import { expandInputs } from './files';
import { BadRecordError, BadRecordReport, CommonReadOptions, RecordStream } from './readers';
import { spawnWorker } from './spawn-worker';

export interface ParquetOptions extends Omit<CommonReadOptions, 'chunkBytes'> {
  /** The string column holding the documents (default "text"). */
  column?: string;
}

type Msg = { file: number; rowStart: number; values: unknown[] } | { done: true } | { error: string };

/**
 * Values of `column` row by row; `source` is `file:row` with 1-based rows. Nulls and non-strings are bad records.
 * hyparquet is an ES module that jest's CommonJS runtime cannot load, and decoding is CPU work, so it runs in a worker.
 */
export function readParquet(inputs: string | readonly string[], opts: ParquetOptions = {}): RecordStream<string> {
  const files = expandInputs(inputs);
  const column = opts.column ?? 'text';
  const policy = opts.onBadRecord ?? 'fail';
  const report = new BadRecordReport(opts.maxErrorMessages);
  async function* gen() {
    const w = spawnWorker('parquet-worker', { files, column });
    const inbox: Msg[] = [];
    let wake: (() => void) | null = null;
    w.on('message', (m: Msg) => {
      inbox.push(m);
      wake?.();
    });
    w.on('error', (e) => {
      inbox.push({ error: e.message });
      wake?.();
    });
    const receive = async (): Promise<Msg> => {
      while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
      wake = null;
      return inbox.shift()!;
    };
    let doneFiles = 0;
    const finishFiles = (upTo: number) => {
      for (; doneFiles < upTo; doneFiles++) opts.onBytes?.(fs.statSync(files[doneFiles]).size);
    };
    try {
      w.postMessage('next');
      for (;;) {
        const m = await receive();
        if ('error' in m) throw new Error(`readParquet: ${m.error}`);
        if ('done' in m) {
          finishFiles(files.length);
          return;
        }
        w.postMessage('next'); // decode the next row group while this one is consumed
        const file = files[m.file];
        // Progress advances a whole file at a time (row groups do not map to byte ranges of the text).
        finishFiles(m.file);
        for (let i = 0; i < m.values.length; i++) {
          const v = m.values[i];
          const source = `${file}:${m.rowStart + i + 1}`;
          if (typeof v === 'string') {
            yield { value: v, source };
            continue;
          }
          const reason = `column "${column}" is ${v === null || v === undefined ? 'null' : typeof v}, not a string`;
          if (policy === 'fail') throw new BadRecordError(source, reason);
          report.add(source, reason);
        }
      }
    } finally {
      await w.terminate();
    }
  }
  return { files, report, [Symbol.asyncIterator]: gen };
}
