// Table-driven reflected CRC-32 variants: CRC-32 (PNG chunks) and CRC-32C / Castagnoli (TFRecord framing).

function makeTable(poly: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (poly ^ (c >>> 1)) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

function makeCrc(poly: number): (data: Uint8Array, seed?: number) => number {
  const table = makeTable(poly);
  // `seed` is a previous result, so a long input can be fed in pieces.
  return (data, seed = 0) => {
    let c = ~seed >>> 0;
    for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
    return ~c >>> 0;
  };
}

/** CRC-32 (ISO-HDLC, polynomial 0x04C11DB7 reflected) as used by PNG and zlib. */
export const crc32 = makeCrc(0xedb88320);

/** CRC-32C (Castagnoli, polynomial 0x1EDC6F41 reflected) as used by TFRecord files. */
export const crc32c = makeCrc(0x82f63b78);

/** TFRecord's masked CRC: rotating and offsetting keeps a CRC of data that itself holds CRCs from being degenerate. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
