// Safetensors header: reads the length prefix and the JSON header from a byte source and validates
// every entry against the data buffer before any tensor memory is allocated. No tensor data is read.
import fs from 'node:fs';
import type { DType } from '../dtype';
import { SafetensorsError } from './errors';
import { parseJsonStrict, exactUint, describeJson, JsonError, type JsonValue } from './json';

/** The largest header accepted, as in the reference implementation (a DoS guard). */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Element sizes of the byte-sized dtypes the format defines, in the reference implementation's
 * enum order (used to order tensors when writing, see write.ts). A Map so that hostile names
 * like "constructor" do not hit Object.prototype.
 */
export const FILE_DTYPE_SIZE: ReadonlyMap<string, number> = new Map([
  ['BOOL', 1], ['U8', 1], ['I8', 1], ['F8_E5M2', 1], ['F8_E4M3', 1], ['F8_E8M0', 1],
  ['F8_E4M3FNUZ', 1], ['F8_E5M2FNUZ', 1], ['I16', 2], ['U16', 2], ['F16', 2], ['BF16', 2],
  ['I32', 4], ['U32', 4], ['F32', 4], ['C64', 8], ['F64', 8], ['I64', 8], ['U64', 8],
]);
/** Sub-byte dtypes the format defines but whose sizes are in bits; Stellar refuses them. */
const SUB_BYTE_DTYPES = new Set(['F4', 'F6_E2M3', 'F6_E3M2']);

/**
 * What each file dtype loads as. I8 loads as `int8`; U8 and BOOL both become `bool` (a byte per
 * element, raw values kept); F64 is converted to float32 on load because Stellar has no float64 tensors.
 */
export const LOAD_DTYPE: ReadonlyMap<string, DType> = new Map<string, DType>([
  ['F32', 'float32'], ['BF16', 'bfloat16'], ['F16', 'float16'], ['I64', 'int64'], ['I32', 'int32'],
  ['I8', 'int8'], ['U8', 'bool'], ['BOOL', 'bool'], ['F64', 'float32'],
]);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Tensor bytes are copied between the file and native buffers as they are, so the host must be
 * little-endian like the format (x86-64 and arm64 are); a big-endian host is refused, not corrupted. */
export function assertLittleEndian(label: string): void {
  if (!LITTLE_ENDIAN) throw new SafetensorsError(label, 'big-endian hosts are not supported (safetensors data is little-endian)');
}

/** One tensor as the header describes it. */
export interface SafetensorsEntry {
  name: string;
  /** The dtype as written in the file: 'F32', 'BF16', 'I64', ... */
  fileDtype: string;
  /** The dtype it loads as, or null when Stellar cannot load this file dtype (e.g. 'U16'). */
  dtype: DType | null;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data buffer. */
  dataOffsets: [number, number];
}

/** A validated header. */
export interface SafetensorsHeader {
  /** Entries in data-buffer order. */
  entries: Map<string, SafetensorsEntry>;
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
  /** Absolute file offset of the data buffer (8 + header length). */
  dataStart: number;
  /** Length of the data buffer in bytes. */
  dataLength: number;
}

/** Random access to the bytes of a file or an in-memory buffer. */
export interface ByteSource {
  /** For error messages: the path, or "<buffer>". */
  readonly label: string;
  readonly size: number;
  /** Bytes [pos, pos + len); may be a view of `scratch` (which must hold len bytes) or of the source. */
  read(pos: number, len: number, scratch: Uint8Array): Uint8Array;
}

export function memorySource(bytes: Uint8Array, label = '<buffer>'): ByteSource {
  return {
    label,
    size: bytes.byteLength,
    read(pos, len) {
      if (pos + len > bytes.byteLength) throw new SafetensorsError(label, `read of bytes [${pos}, ${pos + len}) past the end of the buffer`);
      return bytes.subarray(pos, pos + len);
    },
  };
}

export function fileSource(fd: number, label: string): ByteSource {
  const size = fs.fstatSync(fd).size;
  return {
    label,
    size,
    read(pos, len, scratch) {
      const dst = scratch.subarray(0, len);
      let done = 0;
      while (done < len) {
        const n = fs.readSync(fd, dst, done, len - done, pos + done);
        // The size was checked against the header, so a short read means the file shrank under us.
        if (n === 0) throw new SafetensorsError(label, `unexpected end of file at byte ${pos + done} (was the file truncated while reading?)`);
        done += n;
      }
      return dst;
    },
  };
}

/** Reads and validates the length prefix and header of a source. */
export function readHeader(src: ByteSource): SafetensorsHeader {
  const fail = (msg: string): never => { throw new SafetensorsError(src.label, msg); };
  if (src.size < 8) fail(`file is ${src.size} bytes, too short to hold the 8-byte header length`);
  const prefix = src.read(0, 8, new Uint8Array(8));
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n) fail(`header length ${n} is too small for a JSON object`);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n > BigInt(src.size - 8)) fail(`header length ${n} runs past the end of the file (${src.size} bytes; truncated?)`);
  const len = Number(n);
  const headerBytes = src.read(8, len, new Uint8Array(len));
  return parseHeader(headerBytes, 8 + len, src.size - 8 - len, src.label);
}

/** Reads only the header of a safetensors file (the first 8 + N bytes): names, dtypes, shapes,
 * offsets and metadata, fully validated against the file size. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openForRead(path);
  try {
    return readHeader(fileSource(fd, path));
  } finally {
    fs.closeSync(fd);
  }
}

export function openForRead(path: string): number {
  try {
    return fs.openSync(path, 'r');
  } catch (e) {
    throw new SafetensorsError(path, `cannot open: ${(e as Error).message}`);
  }
}

/** Validates the JSON header bytes against a data buffer of `dataLength` bytes. */
export function parseHeader(bytes: Uint8Array, dataStart: number, dataLength: number, label: string): SafetensorsHeader {
  const fail = (msg: string, tensor?: string): never => { throw new SafetensorsError(label, msg, tensor); };
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    fail('header is not valid UTF-8');
  }
  let json: JsonValue = null;
  try {
    json = parseJsonStrict(text);
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    // JSON.parse would silently keep the last of two equal keys; a second tensor of the same name
    // is more likely an attack or a writer bug than intent, so it is refused.
    if (e.kind === 'duplicate' && e.depth === 1) fail(`duplicate tensor name ${JSON.stringify(e.key)} in header`);
    fail(`header is not valid JSON: ${e.message}`);
  }
  if (!(json instanceof Map)) fail(`header must be a JSON object, got ${describeJson(json)}`);
  const top = json as Map<string, JsonValue>;

  const entries: SafetensorsEntry[] = [];
  const metadata: Record<string, string> = {};
  for (const [name, v] of top) {
    if (name === '__metadata__') {
      // The reference accepts `null` here, meaning no metadata.
      if (v === null) continue;
      if (!(v instanceof Map)) fail(`__metadata__ must be an object of strings, got ${describeJson(v)}`);
      for (const [k, s] of v as Map<string, JsonValue>) {
        if (typeof s !== 'string') fail(`__metadata__ value for key ${JSON.stringify(k)} must be a string, got ${describeJson(s)}`);
        // defineProperty keeps a key like "__proto__" an ordinary own property.
        Object.defineProperty(metadata, k, { value: s, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    entries.push(parseEntry(name, v, dataLength, (msg) => fail(msg, name)));
  }

  // The reference (safetensors 0.8, checked with Python) requires the tensors to tile the data
  // buffer exactly: sorted by offsets, each must start where the previous ended ("invalid offset"
  // for both holes and overlaps), and the last must end at the end of the file ("incomplete
  // metadata, file not fully covered"). Zero-size tensors may share an offset with a neighbour.
  entries.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let pos = 0;
  let prev: string | null = null;
  for (const e of entries) {
    const [begin, end] = e.dataOffsets;
    if (begin < pos) fail(`data_offsets [${begin}, ${end}] overlap those of tensor ${JSON.stringify(prev)} (which end at ${pos})`, e.name);
    if (begin > pos) fail(`hole in the data buffer: bytes [${pos}, ${begin}) before this tensor belong to no tensor`, e.name);
    pos = end;
    prev = e.name;
  }
  if (pos !== dataLength) fail(`${dataLength - pos} bytes at the end of the data buffer (after byte ${pos}) belong to no tensor`);

  return { entries: new Map(entries.map((e) => [e.name, e])), metadata, dataStart, dataLength };
}

function parseEntry(name: string, v: JsonValue, dataLength: number, fail: (msg: string) => never): SafetensorsEntry {
  if (!(v instanceof Map)) fail(`entry must be an object with dtype, shape and data_offsets, got ${describeJson(v)}`);
  const o = v as Map<string, JsonValue>;
  // Other keys are ignored, as the reference implementation does.
  const dtype = o.get('dtype');
  const shapeJ = o.get('shape');
  const offsJ = o.get('data_offsets');
  if (dtype === undefined) fail('missing "dtype"');
  if (shapeJ === undefined) fail('missing "shape"');
  if (offsJ === undefined) fail('missing "data_offsets"');
  if (typeof dtype !== 'string') fail(`dtype must be a string, got ${describeJson(dtype!)}`);
  const fileDtype = dtype as string;
  if (SUB_BYTE_DTYPES.has(fileDtype)) fail(`dtype ${fileDtype} (sub-byte) is not supported`);
  const elemSize = FILE_DTYPE_SIZE.get(fileDtype);
  if (elemSize === undefined) fail(`unknown dtype ${describeJson(fileDtype)}`);

  if (!Array.isArray(shapeJ)) fail(`shape must be an array of non-negative integers, got ${describeJson(shapeJ!)}`);
  const shape: number[] = [];
  let numel = 1n;
  for (const d of shapeJ as JsonValue[]) {
    const n = exactUint(d);
    if (n === null) fail(`shape entries must be non-negative integers below 2^53, got ${describeJson(d)}`);
    shape.push(n!);
    numel *= BigInt(n!);
  }
  const nbytes = numel * BigInt(elemSize!);
  if (nbytes > BigInt(Number.MAX_SAFE_INTEGER)) fail(`shape [${shape.join(', ')}] has too many elements (${numel}) to address`);

  if (!Array.isArray(offsJ) || offsJ.length !== 2) fail(`data_offsets must be an array [begin, end], got ${Array.isArray(offsJ) ? `${offsJ.length} entries` : describeJson(offsJ!)}`);
  const [bJ, eJ] = offsJ as JsonValue[];
  const begin = exactUint(bJ);
  const end = exactUint(eJ);
  if (begin === null || end === null) fail(`data_offsets must be non-negative integers below 2^53, got [${describeJson(bJ)}, ${describeJson(eJ)}]`);
  if (begin! > end!) fail(`data_offsets begin ${begin} is after end ${end}`);
  if (BigInt(end! - begin!) !== nbytes) {
    fail(`data_offsets [${begin}, ${end}] span ${end! - begin!} bytes, but shape [${shape.join(', ')}] of ${fileDtype} needs ${nbytes} bytes`);
  }
  if (end! > dataLength) fail(`data_offsets [${begin}, ${end}] run past the end of the data buffer (${dataLength} bytes; truncated file?)`);
  return { name, fileDtype, dtype: LOAD_DTYPE.get(fileDtype) ?? null, shape, dataOffsets: [begin!, end!] };
}
