// Loading safetensors into Tensors: from a file through a file handle (chunked reads straight into
// each tensor's native buffer, so a multi-GB file never sits in one JS buffer) or from bytes in memory.
import fs from 'node:fs';
import { native } from '@stellar/native';
import { Tensor } from '../tensor';
import { isFloat, type DType } from '../dtype';
import type { Device } from '../device';
import { noGrad } from '../autograd';
import { cast } from '../ops';
import { SafetensorsError } from './errors';
import { readHeader, assertLittleEndian, fileSource, memorySource, openForRead, type ByteSource, type SafetensorsEntry, type SafetensorsHeader } from './header';

export interface LoadSafetensorsOptions {
  /** Where the tensors are created (default 'cpu'). */
  device?: Device;
  /** Load only these tensors (all must exist in the file). Default: every tensor. */
  names?: string[];
  /** Convert every floating-point tensor to this float dtype after reading; integer and bool
   * tensors are left as they are. */
  dtype?: DType;
}

export interface LoadedSafetensors {
  /** Tensors in the order their bytes appear in the file. */
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

// Bytes moved per read; a multiple of 8 so F64 chunks hold whole elements.
const CHUNK = 16 << 20;

/**
 * Loads tensors from a safetensors file.
 *
 * The header is validated in full before anything is allocated (see {@link readSafetensorsHeader});
 * each tensor is then read with `fs.readSync` in chunks of at most 16 MiB directly into its
 * native buffer, so peak extra memory is one chunk, not the file.
 *
 * dtypes: F32, BF16, F16, I64, I32, I8 load as such; U8 and BOOL load as `bool` (raw bytes kept);
 * F64 is converted to float32 (rounded to nearest) since Stellar has no float64 tensors. Other
 * dtypes the format allows (U16, I16, F8_*, ...) raise a {@link SafetensorsError} naming the tensor.
 * The host is assumed little-endian, like the file (true on x86-64 and arm64).
 *
 * @throws SafetensorsError for any malformed or truncated file or invalid option.
 */
export function loadSafetensors(path: string, opts: LoadSafetensorsOptions = {}): LoadedSafetensors {
  const fd = openForRead(path);
  try {
    const src = fileSource(fd, path);
    return loadFrom(src, readHeader(src), opts);
  } finally {
    fs.closeSync(fd);
  }
}

/** Like {@link loadSafetensors}, from the bytes of a whole safetensors file already in memory. */
export function parseSafetensors(bytes: Uint8Array, opts: LoadSafetensorsOptions = {}): LoadedSafetensors {
  const src = memorySource(bytes);
  return loadFrom(src, readHeader(src), opts);
}

function loadFrom(src: ByteSource, header: SafetensorsHeader, opts: LoadSafetensorsOptions): LoadedSafetensors {
  assertLittleEndian(src.label);
  if (opts.dtype !== undefined && !isFloat(opts.dtype)) {
    throw new SafetensorsError(src.label, `option dtype must be a floating-point dtype (float32, bfloat16, float16), got ${String(opts.dtype)}`);
  }
  const selected = selectEntries(src.label, header, opts.names);
  // Refuse unloadable dtypes before allocating anything.
  for (const e of selected) {
    if (e.dtype === null) {
      throw new SafetensorsError(src.label, `dtype ${e.fileDtype} cannot be loaded by Stellar (supported: F32, BF16, F16, F64 as float32, I64, I32, I8, U8/BOOL as bool)`, e.name);
    }
  }
  const maxBytes = selected.reduce((m, e) => Math.max(m, e.dataOffsets[1] - e.dataOffsets[0]), 0);
  const scratch = new Uint8Array(Math.min(CHUNK, maxBytes));
  const tensors = new Map<string, Tensor>();
  try {
    for (const e of selected) {
      let t = readTensor(src, header.dataStart, e, opts.device ?? 'cpu', scratch);
      if (opts.dtype !== undefined && isFloat(t.dtype) && t.dtype !== opts.dtype) {
        const c: Tensor = noGrad(() => cast(t, opts.dtype!));
        t.dispose();
        t = c;
      }
      tensors.set(e.name, t);
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  }
  return { tensors, metadata: header.metadata };
}

function selectEntries(label: string, header: SafetensorsHeader, names?: string[]): SafetensorsEntry[] {
  if (names === undefined) return [...header.entries.values()];
  const wanted = new Set<string>();
  for (const n of names) {
    if (!header.entries.has(n)) throw new SafetensorsError(label, `no tensor named ${JSON.stringify(n)} in the file (it holds ${header.entries.size})`);
    wanted.add(n);
  }
  // Keep file order so reads go forward through the file.
  return [...header.entries.values()].filter((e) => wanted.has(e.name));
}

function readTensor(src: ByteSource, dataStart: number, e: SafetensorsEntry, device: Device, scratch: Uint8Array): Tensor {
  const t = Tensor.empty(e.shape, { dtype: e.dtype!, device });
  try {
    const [begin, end] = e.dataOffsets;
    const total = end - begin;
    for (let pos = 0; pos < total; pos += CHUNK) {
      const len = Math.min(CHUNK, total - pos);
      const bytes = src.read(dataStart + begin + pos, len, scratch);
      if (e.fileDtype === 'F64') native.write(t.storage.handle, pos / 2, f64BytesToF32(bytes));
      else native.write(t.storage.handle, pos, bytes);
    }
  } catch (err) {
    t.dispose();
    throw err;
  }
  return t;
}

/** Float64 little-endian bytes → float32 values (round to nearest even, as a cast does). */
function f64BytesToF32(bytes: Uint8Array): Float32Array {
  // A Float64Array view needs 8-byte alignment; in-memory sources may hand us any offset.
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const f64 = new Float64Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 8);
  const f32 = new Float32Array(f64.length);
  f32.set(f64);
  return f32;
}
