// Streams a file's lines in fixed-size chunks: LF or CRLF endings, UTF-8 decoded per whole line, memory bounded by chunk + longest line.
import fs from 'node:fs';

export interface Line {
  /** Decoded text without its line ending. */
  text: string;
  /** 1-based line number. */
  lineNo: number;
  /** Byte offset of the line's start in the file. */
  offset: number;
  /** False only for a last line with no newline after it. */
  newline: boolean;
  /** Set when the line was longer than `maxLineBytes`; `text` is then empty (the bytes were dropped unread). */
  tooLong?: number;
}

export interface LineReadOptions {
  /** Bytes per read (default 1 MiB). */
  chunkBytes?: number;
  /** Lines longer than this are reported as `tooLong` instead of being buffered (default 256 MiB). */
  maxLineBytes?: number;
  /** Called with each chunk's byte length as it is read. */
  onBytes?: (n: number) => void;
  /** Called with the bytes currently held (partial line + chunk), to check the bound. */
  onBuffered?: (n: number) => void;
}

const NL = 0x0a;
const CR = 0x0d;

/**
 * The lines of `file`. Lines are cut at byte 0x0A, which never occurs inside a multi-byte UTF-8
 * sequence, so each line is decoded whole and chunk boundaries cannot split a character. A UTF-8
 * byte-order mark at the start of the file is dropped; invalid UTF-8 decodes to U+FFFD. Lines come
 * in batches, one per chunk read, to keep per-line overhead low.
 */
export async function* readLines(file: string, opts: LineReadOptions = {}): AsyncGenerator<Line[]> {
  const maxLine = opts.maxLineBytes ?? 256 * 1024 * 1024;
  const stream = fs.createReadStream(file, { highWaterMark: opts.chunkBytes ?? 1 << 20 });
  // Bytes of the current line that arrived in earlier chunks (dropped once the line is known to be too long).
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let lineBytes = 0; // length of the current line so far, held or not
  let lineStart = 0;
  let lineNo = 1;
  let pos = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    opts.onBytes?.(chunk.length);
    opts.onBuffered?.(carryBytes + chunk.length);
    let i = 0;
    const batch: Line[] = [];
    while (i < chunk.length) {
      const nl = chunk.indexOf(NL, i);
      const end = nl < 0 ? chunk.length : nl;
      lineBytes += end - i;
      const tooLong = lineBytes > maxLine;
      if (tooLong) {
        carry = [];
        carryBytes = 0;
      } else if (nl >= 0) {
        const piece = carry.length ? Buffer.concat([...carry, chunk.subarray(i, end)]) : chunk.subarray(i, end);
        batch.push({ text: decodeLine(piece, lineStart), lineNo, offset: lineStart, newline: true });
      } else {
        carry.push(chunk.subarray(i));
        carryBytes += chunk.length - i;
      }
      if (nl < 0) break;
      if (tooLong) batch.push({ text: '', lineNo, offset: lineStart, newline: true, tooLong: lineBytes });
      carry = [];
      carryBytes = 0;
      lineBytes = 0;
      lineNo++;
      i = nl + 1;
      lineStart = pos + i;
    }
    pos += chunk.length;
    if (batch.length) yield batch;
  }
  if (lineBytes > maxLine) yield [{ text: '', lineNo, offset: lineStart, newline: false, tooLong: lineBytes }];
  else if (lineBytes > 0) yield [{ text: decodeLine(Buffer.concat(carry), lineStart), lineNo, offset: lineStart, newline: false }];
}

/** UTF-8 text of a line's bytes, without a trailing CR (CRLF files) or, on the file's first line, a byte-order mark. */
function decodeLine(b: Buffer, offset: number): string {
  const n = b.length > 0 && b[b.length - 1] === CR ? b.length - 1 : b.length;
  const s = b.toString('utf8', 0, n);
  return offset === 0 && s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}
