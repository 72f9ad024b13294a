// Streaming training corpus: plain-text or JSONL files read in chunks, yielded one text at a time, with read/bad-line statistics.
import fs from 'node:fs';
import { expandInputs } from './glob';
import { readLines, type Line } from './lines';

export type CorpusFormat = 'auto' | 'text' | 'jsonl';

export interface CorpusOptions {
  /** 'auto' (default): `.jsonl` / `.ndjson` files are JSONL, anything else plain text. */
  format?: CorpusFormat;
  /** JSONL field holding the text (default 'text'). */
  textField?: string;
  /** Malformed JSONL lines (and over-long lines): 'fail' (default) throws naming file:line, 'skip' counts them. */
  onBadLine?: 'skip' | 'fail';
  /**
   * Only texts whose first byte lies in [from, to) of the concatenated input, as fractions of its
   * total size, e.g. [0, 0.95] to train and [0.95, 1] to hold out. Reading stops at `to`.
   */
  slice?: [number, number];
  /** Bytes per read (default 1 MiB). */
  chunkBytes?: number;
  /** Longer lines are bad lines rather than being buffered (default 256 MiB). */
  maxLineBytes?: number;
}

export interface CorpusStats {
  files: string[];
  /** Size of all input files together. */
  totalBytes: number;
  /** Bytes the reader expects to read for the requested slice (all of them without one). */
  targetBytes: number;
  bytesRead: number;
  texts: number;
  badLines: number;
  /** The first few bad lines as `file:line: reason`. */
  badLineMessages: string[];
  /** Most bytes held at once (partial line + chunk): the reader's memory bound, for tests and diagnostics. */
  maxBufferedBytes: number;
}

export interface CorpusReader extends AsyncIterable<string> {
  readonly stats: CorpusStats;
  /** The same texts in batches (one per chunk read), cheaper to consume than one at a time. */
  batches(): AsyncGenerator<string[]>;
}

/** How many bad-line messages are kept; the rest are only counted. */
export const MAX_BAD_LINE_MESSAGES = 5;

/**
 * Texts of `inputs` (files, directories or globs, see `expandInputs`), streamed: a plain-text file gives
 * one text per line, with its '\n' kept (CRLF becomes '\n'; a last line without a newline has none)
 * as Hugging Face's trainer reads files; a JSONL file gives the `textField` of each non-blank line. Only
 * the current chunk and line are held in memory. File matching happens now, so a bad path throws here.
 */
export function readCorpus(inputs: string | readonly string[], opts: CorpusOptions = {}): CorpusReader {
  const files = expandInputs(typeof inputs === 'string' ? [inputs] : inputs);
  const sizes = files.map((f) => fs.statSync(f).size);
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  const textField = opts.textField ?? 'text';
  const onBadLine = opts.onBadLine ?? 'fail';
  const [from, to] = opts.slice ?? [0, 1];
  if (!(from >= 0 && from <= to && to <= 1)) throw new Error(`corpus: slice must satisfy 0 <= from <= to <= 1, got [${from}, ${to}]`);
  const fromByte = Math.floor(from * totalBytes);
  const toByte = to >= 1 ? Infinity : Math.floor(to * totalBytes);
  const formats = files.map((f) => {
    if (opts.format && opts.format !== 'auto') return opts.format;
    return /\.(jsonl|ndjson)$/i.test(f) ? 'jsonl' : 'text';
  });

  // Files wholly before the slice are not opened; reading starts with the file holding `fromByte`.
  const starts: number[] = [];
  let acc = 0;
  for (const s of sizes) {
    starts.push(acc);
    acc += s;
  }
  const firstFile = Math.max(0, starts.findIndex((s, i) => s + sizes[i] > fromByte));
  const stats: CorpusStats = {
    files,
    totalBytes,
    targetBytes: Math.min(toByte, totalBytes) - (starts[firstFile] ?? 0),
    bytesRead: 0,
    texts: 0,
    badLines: 0,
    badLineMessages: [],
    maxBufferedBytes: 0,
  };

  const bad = (file: string, line: Line, reason: string) => {
    const msg = `${file}:${line.lineNo}: ${reason}`;
    if (onBadLine === 'fail') throw new Error(`corpus: ${msg}`);
    stats.badLines++;
    if (stats.badLineMessages.length < MAX_BAD_LINE_MESSAGES) stats.badLineMessages.push(msg);
  };

  async function* batches(): AsyncGenerator<string[]> {
    for (let fi = firstFile; fi < files.length && starts[fi] < toByte; fi++) {
      if (sizes[fi] === 0 || starts[fi] + sizes[fi] <= fromByte) continue;
      const file = files[fi];
      const lines = readLines(file, {
        chunkBytes: opts.chunkBytes,
        maxLineBytes: opts.maxLineBytes,
        onBytes: (n) => (stats.bytesRead += n),
        onBuffered: (n) => (stats.maxBufferedBytes = Math.max(stats.maxBufferedBytes, n)),
      });
      for await (const batch of lines) {
        const out: string[] = [];
        let past = false;
        for (const line of batch) {
          const at = starts[fi] + line.offset;
          if (at < fromByte) continue;
          if (at >= toByte) {
            past = true;
            break;
          }
          const text = toText(file, line, formats[fi], textField, bad);
          if (text !== null) out.push(text);
        }
        stats.texts += out.length;
        if (out.length) yield out;
        // Returning from the for-await closes the file stream.
        if (past) return;
      }
    }
  }

  return {
    stats,
    batches,
    async *[Symbol.asyncIterator]() {
      for await (const b of batches()) yield* b;
    },
  };
}

/** The text a line contributes, or null (blank JSONL line, or a bad line being skipped). */
function toText(file: string, line: Line, format: 'text' | 'jsonl', field: string, bad: (f: string, l: Line, r: string) => void): string | null {
  if (line.tooLong !== undefined) {
    bad(file, line, `line is ${line.tooLong} bytes, over the maxLineBytes limit`);
    return null;
  }
  if (format === 'text') return line.newline ? line.text + '\n' : line.text;
  if (line.text.trim() === '') return null;
  let v: unknown;
  try {
    v = JSON.parse(line.text);
  } catch (e) {
    bad(file, line, `invalid JSON (${(e as Error).message})`);
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    bad(file, line, `expected a JSON object, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`);
    return null;
  }
  const t = (v as Record<string, unknown>)[field];
  if (typeof t !== 'string') {
    bad(file, line, t === undefined ? `no "${field}" field` : `"${field}" is ${t === null ? 'null' : typeof t}, not a string`);
    return null;
  }
  return t;
}
