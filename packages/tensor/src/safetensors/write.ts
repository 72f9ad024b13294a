// Writing safetensors: the byte layout (header + tensors back to back, laid out like the reference
// implementation), as one Uint8Array or streamed to a file that is replaced atomically.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { native } from '@stellar/native';
import { Tensor } from '../tensor';
import { DTYPE_SIZE, type DType } from '../dtype';
import { noGrad } from '../autograd';
import { contiguousCopy } from '../ops';
import { SafetensorsError } from './errors';
import { FILE_DTYPE_SIZE, assertLittleEndian } from './header';

/** Tensors to save, by name. */
export type NamedTensors = Record<string, Tensor> | Map<string, Tensor>;

const FILE_DTYPE: Record<DType, string> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16', int64: 'I64', int32: 'I32', bool: 'BOOL', int8: 'I8' };
// The reference orders tensors by its dtype enum (descending) before names; FILE_DTYPE_SIZE lists
// that enum order, so every tensor starts at a multiple of its element size.
const DTYPE_RANK = new Map([...FILE_DTYPE_SIZE.keys()].map((d, i) => [d, i]));
const CHUNK = 16 << 20;

interface Item { name: string; key: Buffer; tensor: Tensor; owned: boolean; begin: number; nbytes: number }
interface Layout { prefix: Uint8Array; items: Item[]; total: number }

/**
 * Serializes tensors to the bytes of a safetensors file.
 *
 * Layout: tensors ordered like the reference implementation (by dtype, widest first, then by name
 * in UTF-8 byte order — plain sorted-name order when all tensors share a dtype), packed without
 * gaps; the header is padded with spaces so the data buffer starts 8-byte aligned. Non-contiguous
 * tensors are copied to contiguous form first. `bool` tensors are written as BOOL, `int8` as I8.
 * The result must fit in one Uint8Array; use {@link saveSafetensors} for large models.
 */
export function serializeSafetensors(tensors: NamedTensors, metadata?: Record<string, string>): Uint8Array {
  const layout = planLayout(tensors, metadata, '<buffer>');
  try {
    const out = new Uint8Array(layout.total);
    out.set(layout.prefix, 0);
    for (const it of layout.items) {
      if (it.nbytes > 0) native.readInto(it.tensor.storage.handle, byteOffset(it.tensor), out.subarray(it.begin, it.begin + it.nbytes));
    }
    return out;
  } finally {
    releaseLayout(layout);
  }
}

/**
 * Writes tensors to a safetensors file (same layout as {@link serializeSafetensors}).
 *
 * Atomic: the bytes go to a temporary file in the same directory, which is fsync'ed and then
 * renamed over `file`, so readers see either the old file or the complete new one. Tensor data is
 * streamed in chunks of at most 16 MiB.
 *
 * @throws SafetensorsError for invalid names, tensors or metadata, and for I/O failures.
 */
export function saveSafetensors(file: string, tensors: NamedTensors, metadata?: Record<string, string>): void {
  const layout = planLayout(tensors, metadata, file);
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'wx');
    writeAll(fd, layout.prefix);
    const scratch = new Uint8Array(Math.min(CHUNK, layout.items.reduce((m, i) => Math.max(m, i.nbytes), 0)));
    for (const it of layout.items) {
      const base = byteOffset(it.tensor);
      for (let pos = 0; pos < it.nbytes; pos += CHUNK) {
        const chunk = scratch.subarray(0, Math.min(CHUNK, it.nbytes - pos));
        native.readInto(it.tensor.storage.handle, base + pos, chunk);
        writeAll(fd, chunk);
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd >= 0) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError(file, `write failed: ${(e as Error).message}`);
  } finally {
    releaseLayout(layout);
  }
  syncDir(dir);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done);
}

// Makes the rename durable; not every platform lets a directory be opened or fsync'ed.
function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch { /* best effort */ } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

const byteOffset = (t: Tensor): number => t.offset * DTYPE_SIZE[t.dtype];

function planLayout(tensors: NamedTensors, metadata: Record<string, string> | undefined, label: string): Layout {
  const fail = (msg: string, tensor?: string): never => { throw new SafetensorsError(label, msg, tensor); };
  assertLittleEndian(label);
  const pairs: [unknown, unknown][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const md: [string, string][] = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object') fail('metadata must be an object of strings');
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`metadata value for key ${JSON.stringify(k)} must be a string, got ${typeof v}`);
      md.push([k, v]);
    }
    md.sort((a, b) => compareUtf8(a[0], b[0]));
  }
  const items: Item[] = [];
  const seen = new Set<string>();
  try {
    for (const [name, t] of pairs) {
      if (typeof name !== 'string') fail(`tensor names must be strings, got ${typeof name}`);
      const n = name as string;
      if (n === '__metadata__') fail('"__metadata__" is reserved and cannot name a tensor');
      if (seen.has(n)) fail('duplicate tensor name', n);
      seen.add(n);
      if (!(t instanceof Tensor)) fail('value is not a Tensor', n);
      const tensor = t as Tensor;
      if (tensor.disposed) fail('tensor has been disposed', n);
      const owned = !tensor.isContiguous;
      const c = owned ? noGrad(() => contiguousCopy(tensor)) : tensor;
      items.push({ name: n, key: Buffer.from(n, 'utf8'), tensor: c, owned, begin: 0, nbytes: c.size * DTYPE_SIZE[c.dtype] });
    }
    items.sort((a, b) =>
      DTYPE_RANK.get(FILE_DTYPE[b.tensor.dtype])! - DTYPE_RANK.get(FILE_DTYPE[a.tensor.dtype])! || Buffer.compare(a.key, b.key));

    let json = '{';
    if (md.length > 0) json += `"__metadata__":{${md.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}},`;
    let off = 0;
    const parts: string[] = [];
    for (const it of items) {
      it.begin = off;
      parts.push(`${JSON.stringify(it.name)}:{"dtype":"${FILE_DTYPE[it.tensor.dtype]}","shape":[${it.tensor.shape.join(',')}],"data_offsets":[${off},${off + it.nbytes}]}`);
      off += it.nbytes;
    }
    json += parts.join(',') + '}';
    const headerText = new TextEncoder().encode(json);
    // Space padding (allowed by the spec, done by the reference) so the data starts 8-byte aligned.
    const n = headerText.byteLength + ((8 - (headerText.byteLength % 8)) % 8);
    if (n > 100_000_000) fail(`header would be ${n} bytes, over the 100 MB limit readers enforce`);
    const prefix = new Uint8Array(8 + n).fill(0x20, 8 + headerText.byteLength);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(n), true);
    prefix.set(headerText, 8);
    for (const it of items) it.begin += prefix.byteLength;
    return { prefix, items, total: prefix.byteLength + off };
  } catch (e) {
    releaseLayout({ prefix: new Uint8Array(0), items, total: 0 });
    throw e;
  }
}

function releaseLayout(layout: Layout): void {
  for (const it of layout.items) if (it.owned) it.tensor.dispose();
}

// Rust (the reference) compares names as UTF-8 bytes; JS string order is UTF-16 code units.
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
