// Test-side PNG decoder for 8-bit RGB/RGBA, non-interlaced files: checks signature and every chunk CRC
// (with zlib's CRC-32, not ours), inflates IDAT and undoes all five scanline filters.
import zlib from 'node:zlib';

export interface DecodedPng { width: number; height: number; rgb: Uint8Array; chunks: string[] }

const zcrc = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;

export function decodePng(buf: Buffer): DecodedPng {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!sig.every((b, i) => buf[i] === b)) throw new Error('bad PNG signature');
  let o = 8;
  let width = 0, height = 0, channels = 0;
  const idat: Buffer[] = [];
  const chunks: string[] = [];
  while (o < buf.length) {
    const len = buf.readUInt32BE(o);
    const type = buf.toString('latin1', o + 4, o + 8);
    const data = buf.subarray(o + 8, o + 8 + len);
    const crc = buf.readUInt32BE(o + 8 + len);
    if (zcrc && zcrc(buf.subarray(o + 4, o + 8 + len)) !== crc) throw new Error(`CRC mismatch in ${type}`);
    chunks.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[10] !== 0 || data[11] !== 0 || data[12] !== 0) throw new Error('unsupported IHDR');
      channels = data[9] === 2 ? 3 : data[9] === 6 ? 4 : 0;
      if (!channels) throw new Error(`unsupported colour type ${data[9]}`);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    o += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== (stride + 1) * height) throw new Error(`IDAT holds ${raw.length} bytes, expected ${(stride + 1) * height}`);
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? px[y * stride + i - channels] : 0;
      const b = y > 0 ? px[(y - 1) * stride + i] : 0;
      const c = i >= channels && y > 0 ? px[(y - 1) * stride + i - channels] : 0;
      let pred: number;
      if (f === 0) pred = 0;
      else if (f === 1) pred = a;
      else if (f === 2) pred = b;
      else if (f === 3) pred = (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new Error(`bad filter ${f}`);
      px[y * stride + i] = (x + pred) & 0xff;
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set(px.subarray(i * channels, i * channels + 3), i * 3);
  return { width, height, rgb, chunks };
}

/** Pixels exactly equal to `color`, as [x, y] pairs. */
export function pixelsOf(img: DecodedPng, color: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < img.width * img.height; i++) {
    if (img.rgb[i * 3] === color[0] && img.rgb[i * 3 + 1] === color[1] && img.rgb[i * 3 + 2] === color[2]) out.push([i % img.width, Math.floor(i / img.width)]);
  }
  return out;
}
