// Streaming line splitter over files: chunked reads, CRLF, UTF-8 kept whole across chunk boundaries.
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export interface Line {
  text: string;
  /** 1-based line number in the file. */
  line: number;
}

export interface LineReadOptions {
  chunkBytes?: number;
  /** Called after each chunk with the number of bytes it held (progress accounting). */
  onBytes?: (n: number) => void;
}

/** Lines of `file` without their terminators; a final line without a newline is still yielded. */
export async function* readLines(file: string, opts: LineReadOptions = {}): AsyncGenerator<Line> {
  const chunkBytes = opts.chunkBytes ?? 1 << 20;
  // StringDecoder holds back the bytes of a character split by the chunk boundary.
  const decoder = new StringDecoder('utf8');
  const handle = await fs.promises.open(file, 'r');
  const buf = Buffer.allocUnsafe(chunkBytes);
  let carry = '';
  let lineNo = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, chunkBytes, null);
      if (bytesRead === 0) break;
      opts.onBytes?.(bytesRead);
      const text = carry + decoder.write(buf.subarray(0, bytesRead));
      let start = 0;
      // The carried part has no newline: search only the new text, so a very long line is not rescanned per chunk.
      for (let nl = text.indexOf('\n', carry.length); nl !== -1; nl = text.indexOf('\n', start)) {
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        yield { text: text.slice(start, end), line: ++lineNo };
        start = nl + 1;
      }
      carry = text.slice(start);
    }
    carry += decoder.end();
    if (carry.length > 0) yield { text: carry.endsWith('\r') ? carry.slice(0, -1) : carry, line: ++lineNo };
  } finally {
    await handle.close();
  }
}
