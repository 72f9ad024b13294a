// Minimal protobuf wire-format encoder: just the field kinds TensorBoard's Event/Summary messages need.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Appends fields in call order; `finish()` returns the encoded message. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];

  private tag(field: number, wire: number): void {
    this.varint(BigInt(field * 8 + wire));
  }

  private varint(v: bigint): void {
    // Negative int64 values are encoded as their 64-bit two's complement (10 bytes), as protobuf does.
    let u = BigInt.asUintN(64, v);
    const out: number[] = [];
    do {
      let byte = Number(u & 0x7fn);
      u >>= 7n;
      if (u !== 0n) byte |= 0x80;
      out.push(byte);
    } while (u !== 0n);
    this.chunks.push(Uint8Array.from(out));
  }

  int64(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(BigInt(v));
    return this;
  }

  double(field: number, v: number): this {
    this.tag(field, WIRE_FIXED64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.chunks.push(b);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.chunks.push(b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(BigInt(data.length));
    this.chunks.push(data);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of this.chunks) { out.set(c, o); o += c.length; }
    return out;
  }
}
