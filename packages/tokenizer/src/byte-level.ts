// GPT-2's reversible byte <-> printable-unicode-char map, so every byte sequence is a string of "visible" chars.

/** BYTE_TO_CHAR[b] is the char standing for byte b (printable Latin-1 bytes map to themselves). */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();
/** Inverse of BYTE_TO_CHAR, keyed by char code. */
export const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c.charCodeAt(0), b]));

function buildByteToChar(): string[] {
  const out: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  // Non-printable bytes are shifted past 255 in byte order; this is GPT-2's exact assignment.
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable(b) ? b : next++);
  return out;
}

const utf8 = new TextEncoder();

/** The byte-level string of a text: its UTF-8 bytes, each replaced by its stand-in char. */
export function toByteLevel(text: string): string {
  let s = '';
  for (const b of utf8.encode(text)) s += BYTE_TO_CHAR[b];
  return s;
}

/** The 256 byte-level chars sorted by code point (the order HF's trainer gives the initial alphabet). */
export function byteAlphabet(): string[] {
  return [...BYTE_TO_CHAR].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
}
