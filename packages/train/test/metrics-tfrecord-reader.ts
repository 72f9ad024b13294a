// Test-side reader for TensorBoard event files: TFRecord framing with CRC checks, and a protobuf decoder
// written against the wire format (not the writer's code) for Event / Summary / Summary.Value.
import { crc32c } from '../src/metrics/crc';

export interface DecodedValue { tag: string; simpleValue?: number }
export interface DecodedEvent { wallTime: number; step: number; fileVersion?: string; values?: DecodedValue[] }

function masked(c: number): number {
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Splits a TFRecord file into record payloads; throws on a bad length CRC, data CRC or a truncated record. */
export function readTfRecords(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o < buf.length) {
    if (o + 12 > buf.length) throw new Error(`truncated record header at ${o}`);
    const len = Number(buf.readBigUInt64LE(o));
    if (buf.readUInt32LE(o + 8) !== masked(crc32c(buf.subarray(o, o + 8)))) throw new Error(`length CRC mismatch at ${o}`);
    if (o + 12 + len + 4 > buf.length) throw new Error(`truncated record at ${o}`);
    const data = buf.subarray(o + 12, o + 12 + len);
    if (buf.readUInt32LE(o + 12 + len) !== masked(crc32c(data))) throw new Error(`data CRC mismatch at ${o}`);
    out.push(data);
    o += 12 + len + 4;
  }
  return out;
}

interface Field { num: number; wire: number; varint?: bigint; bytes?: Buffer; fixed?: Buffer }

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let o = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (o >= buf.length) throw new Error('truncated varint');
      const b = buf[o++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (o < buf.length) {
    const key = Number(varint());
    const f: Field = { num: key >>> 3, wire: key & 7 };
    if (f.wire === 0) f.varint = varint();
    else if (f.wire === 1) { f.fixed = buf.subarray(o, o + 8); o += 8; }
    else if (f.wire === 5) { f.fixed = buf.subarray(o, o + 4); o += 4; }
    else if (f.wire === 2) { const n = Number(varint()); f.bytes = buf.subarray(o, o + n); o += n; }
    else throw new Error(`unsupported wire type ${f.wire}`);
    if (o > buf.length) throw new Error('field runs past the end of the message');
    out.push(f);
  }
  return out;
}

/** Decodes an `Event` (wall_time = 1, step = 2, file_version = 3, summary = 5). */
export function decodeEvent(buf: Buffer): DecodedEvent {
  const ev: DecodedEvent = { wallTime: 0, step: 0 };
  for (const f of fields(buf)) {
    if (f.num === 1 && f.wire === 1) ev.wallTime = f.fixed!.readDoubleLE(0);
    else if (f.num === 2 && f.wire === 0) ev.step = Number(BigInt.asIntN(64, f.varint!));
    else if (f.num === 3 && f.wire === 2) ev.fileVersion = f.bytes!.toString('utf8');
    else if (f.num === 5 && f.wire === 2) {
      ev.values = [];
      for (const v of fields(f.bytes!)) {
        if (v.num !== 1 || v.wire !== 2) continue; // Summary.value = 1
        const dv: DecodedValue = { tag: '' };
        for (const g of fields(v.bytes!)) {
          if (g.num === 1 && g.wire === 2) dv.tag = g.bytes!.toString('utf8');
          else if (g.num === 2 && g.wire === 5) dv.simpleValue = g.fixed!.readFloatLE(0);
        }
        ev.values.push(dv);
      }
    } else throw new Error(`unexpected Event field ${f.num} (wire ${f.wire})`);
  }
  return ev;
}
