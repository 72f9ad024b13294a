// Streaming record readers (JSONL, plain text) over many files and globs, with a bad-record policy.
import { expandInputs } from './files';
import { readLines } from './lines';

/** One record and where it came from, as `file:line`. */
export interface SourcedRecord<T> {
  value: T;
  source: string;
}

export type BadRecordPolicy = 'skip' | 'fail';

/** What `skip` dropped: a count and the first `maxMessages` `file:line: reason` messages. */
export class BadRecordReport {
  count = 0;
  readonly messages: string[] = [];
  constructor(readonly maxMessages = 10) {}

  add(source: string, reason: string): void {
    this.count++;
    if (this.messages.length < this.maxMessages) this.messages.push(`${source}: ${reason}`);
  }

  toString(): string {
    if (this.count === 0) return 'no bad records';
    const more = this.count > this.messages.length ? `\n  ... and ${this.count - this.messages.length} more` : '';
    return `${this.count} bad record(s) skipped:\n  ${this.messages.join('\n  ')}${more}`;
  }
}

/** Thrown by the `fail` policy; `source` is `file:line`. */
export class BadRecordError extends Error {
  constructor(readonly source: string, readonly reason: string) {
    super(`${source}: ${reason}`);
    this.name = 'BadRecordError';
  }
}

/** An async iterable of records that also exposes the files it reads and its bad-record report. */
export interface RecordStream<T> extends AsyncIterable<SourcedRecord<T>> {
  readonly files: readonly string[];
  readonly report: BadRecordReport;
}

export interface CommonReadOptions {
  onBadRecord?: BadRecordPolicy;
  maxErrorMessages?: number;
  /** Bytes read so far are reported here (progress bars). */
  onBytes?: (n: number) => void;
  chunkBytes?: number;
}

export interface JsonlOptions extends CommonReadOptions {
  /** Yield this string field of each object; without it, the parsed object itself. */
  field?: string;
}

function stream<T>(files: string[], report: BadRecordReport, gen: () => AsyncGenerator<SourcedRecord<T>>): RecordStream<T> {
  return { files, report, [Symbol.asyncIterator]: gen };
}

function badRecord(policy: BadRecordPolicy, report: BadRecordReport, source: string, reason: string): void {
  if (policy === 'fail') throw new BadRecordError(source, reason);
  report.add(source, reason);
}

/** JSON Lines: one JSON value per line; blank lines are ignored. */
export function readJsonl(inputs: string | readonly string[], opts: JsonlOptions & { field: string }): RecordStream<string>;
export function readJsonl(inputs: string | readonly string[], opts?: JsonlOptions): RecordStream<unknown>;
export function readJsonl(inputs: string | readonly string[], opts: JsonlOptions = {}): RecordStream<unknown> {
  const files = expandInputs(inputs);
  const policy = opts.onBadRecord ?? 'fail';
  const report = new BadRecordReport(opts.maxErrorMessages);
  const { field } = opts;
  return stream(files, report, async function* () {
    for (const file of files) {
      for await (const { text, line } of readLines(file, opts)) {
        if (text.trim() === '') continue;
        const source = `${file}:${line}`;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (e) {
          badRecord(policy, report, source, `invalid JSON (${(e as Error).message})`);
          continue;
        }
        if (field !== undefined) {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) {
            badRecord(policy, report, source, `expected a JSON object with a "${field}" field`);
            continue;
          }
          const v = (value as Record<string, unknown>)[field];
          if (v === undefined) {
            badRecord(policy, report, source, `missing field "${field}"`);
            continue;
          }
          if (typeof v !== 'string') {
            badRecord(policy, report, source, `field "${field}" is ${v === null ? 'null' : typeof v}, not a string`);
            continue;
          }
          value = v;
        }
        yield { value, source };
      }
    }
  });
}

export interface TextOptions extends CommonReadOptions {
  /** `line`: each non-empty line; `paragraph`: blocks separated by blank lines; `file`: each whole file. */
  unit?: 'line' | 'paragraph' | 'file';
}

/** Plain UTF-8 text split into documents by line, paragraph or file; empty documents are skipped. */
export function readText(inputs: string | readonly string[], opts: TextOptions = {}): RecordStream<string> {
  const files = expandInputs(inputs);
  const unit = opts.unit ?? 'line';
  const report = new BadRecordReport(opts.maxErrorMessages);
  return stream(files, report, async function* () {
    for (const file of files) {
      let block: string[] = [];
      let blockStart = 0;
      for await (const { text, line } of readLines(file, opts)) {
        if (unit === 'line') {
          if (text.trim() !== '') yield { value: text, source: `${file}:${line}` };
        } else if (unit === 'paragraph' && text.trim() === '') {
          if (block.length) yield { value: block.join('\n'), source: `${file}:${blockStart}` };
          block = [];
        } else {
          if (block.length === 0) blockStart = line;
          block.push(text);
        }
      }
      // Whole-file documents keep their inner blank lines; newlines are normalized to \n.
      const doc = block.join('\n');
      if (block.length && doc.trim() !== '') yield { value: doc, source: `${file}:${blockStart}` };
    }
  });
}
