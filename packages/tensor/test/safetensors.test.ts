// Safetensors read/write: round trips of every dtype, byte layout checked without our reader,
// interop with a file written by Python safetensors + torch, and refusal of corrupted/hostile files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Tensor, memStats, SafetensorsError, saveSafetensors, serializeSafetensors, loadSafetensors,
  parseSafetensors, readSafetensorsHeader, type DType,
} from '@stellar/tensor';

const FIXTURES = path.join(__dirname, 'fixtures', 'safetensors');
let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-st-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** Raw element bits of a tensor (f32 as uint32, everything else as its host array). */
function bits(t: Tensor): number[] | bigint[] {
  const d = t.data();
  if (d instanceof Float32Array) return Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length));
  if (d instanceof BigInt64Array) return Array.from(d);
  return Array.from(d as Uint16Array | Int32Array | Uint8Array | Int8Array);
}

/** Builds a file from header text (padded with spaces to 8 bytes like the reference) and data. */
function rawFile(header: string, data: Uint8Array | number, lengthField?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const n = h.length + ((8 - (h.length % 8)) % 8);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + n + d.length).fill(0x20, 8, 8 + n);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(n), true);
  out.set(h, 8);
  out.set(d, 8 + n);
  return out;
}

/** Reads a serialized file's header with JSON.parse (independent of our parser). */
function rawHeader(bytes: Uint8Array): { n: number; json: Record<string, any> } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) };
}

function disposeAll(ts: Map<string, Tensor> | Record<string, Tensor>): void {
  for (const t of ts instanceof Map ? ts.values() : Object.values(ts)) t.dispose();
}

/** One tensor per dtype, with awkward values (NaN/inf bit patterns, big int64s, raw bytes). */
function sampleTensors(): Record<string, Tensor> {
  return {
    'f32': Tensor.fromArray(new Float32Array([1.5, -0, Infinity, NaN, 1e-42, -3.25]), [2, 3]),
    'f32.scalar': Tensor.fromArray([7.125], []),
    'f32.empty': Tensor.fromArray([], [0, 3]),
    'bf16': Tensor.fromArray(new Uint16Array([0x3f80, 0x8000, 0x7f80, 0x7fc1, 0x0001, 0xc049]), [3, 2], { dtype: 'bfloat16' }),
    'f16': Tensor.fromArray(new Uint16Array([0x3c00, 0xfc00, 0x7e01, 0x0001, 0x7bff]), [5], { dtype: 'float16' }),
    'i64': Tensor.fromArray(new BigInt64Array([0n, -1n, 2n ** 62n, -(2n ** 63n), 2n ** 53n + 1n]), [5], { dtype: 'int64' }),
    'i32': Tensor.fromArray(new Int32Array([-2147483648, 2147483647, 0]), [1, 3, 1], { dtype: 'int32' }),
    'bool': Tensor.fromArray(new Uint8Array([1, 0, 1]), [3], { dtype: 'bool' }),
    'bool.empty': Tensor.fromArray(new Uint8Array([]), [2, 0], { dtype: 'bool' }),
    'i8': Tensor.fromArray(new Int8Array([-128, 127, -1, 0, 1, -3, 42]), [7], { dtype: 'int8' }),
    'ünï/cödé name': Tensor.fromArray([1, 2], [2]),
  };
}

const FILE_DTYPE: Record<DType, string> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16', int64: 'I64', int32: 'I32', bool: 'BOOL', int8: 'I8' };
const SIZE: Record<DType, number> = { float32: 4, bfloat16: 2, float16: 2, int64: 8, int32: 4, bool: 1, int8: 1 };

describe('round trip', () => {
  test('every dtype, scalars, zero-size tensors and metadata (bytes and file)', () => {
    const src = sampleTensors();
    const metadata: Record<string, string> = { format: 'pt', 'ключ': 'значение ✓', empty: '' };
    Object.defineProperty(metadata, '__proto__', { value: 'not a prototype', enumerable: true });
    const bytes = serializeSafetensors(src, metadata);
    const file = path.join(dir, 'roundtrip.safetensors');
    saveSafetensors(file, new Map(Object.entries(src)), metadata);
    expect(Buffer.compare(fs.readFileSync(file), Buffer.from(bytes))).toBe(0);

    for (const loaded of [parseSafetensors(bytes), loadSafetensors(file)]) {
      expect([...loaded.tensors.keys()].sort()).toEqual(Object.keys(src).sort());
      for (const [name, t] of Object.entries(src)) {
        const u = loaded.tensors.get(name)!;
        expect(u.dtype).toBe(t.dtype);
        expect(u.shape).toEqual(t.shape);
        expect(bits(u)).toEqual(bits(t));
      }
      expect(loaded.metadata).toEqual(metadata);
      expect(Object.getPrototypeOf(loaded.metadata)).toBe(Object.prototype);
      disposeAll(loaded.tensors);
    }
    disposeAll(src);
  });

  test('byte layout matches the format, checked with JSON.parse and raw bytes', () => {
    const src = sampleTensors();
    const bytes = serializeSafetensors(src, { a: 'b' });
    const { n, json } = rawHeader(bytes);
    expect((8 + n) % 8).toBe(0);
    // Padding is spaces, as in the reference implementation.
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(text.length - text.trimEnd().length).toBeLessThan(8);
    expect(json.__metadata__).toEqual({ a: 'b' });
    let end = 0;
    const entries = Object.entries(json).filter(([k]) => k !== '__metadata__') as [string, any][];
    expect(entries.map(([k]) => k).sort()).toEqual(Object.keys(src).sort());
    for (const [name, e] of entries) {
      const t = src[name];
      expect(e.dtype).toBe(FILE_DTYPE[t.dtype]);
      expect(e.shape).toEqual(t.shape);
      const [b, en] = e.data_offsets;
      // Packed back to back in header order; each tensor aligned to its element size.
      expect(b).toBe(end);
      expect(b % SIZE[t.dtype]).toBe(0);
      expect(en - b).toBe(t.size * SIZE[t.dtype]);
      end = en;
      const d = t.data();
      const expected = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      expect(Buffer.compare(Buffer.from(bytes.subarray(8 + n + b, 8 + n + en)), Buffer.from(expected))).toBe(0);
    }
    expect(8 + n + end).toBe(bytes.length);
    disposeAll(src);
  });

  test('tensors are written in sorted-name order within a dtype', () => {
    const src = new Map([['b', Tensor.fromArray([1], [1])], ['a.2', Tensor.fromArray([2], [1])], ['a.10', Tensor.fromArray([3], [1])]]);
    const { json } = rawHeader(serializeSafetensors(src));
    expect(Object.keys(json)).toEqual(['a.10', 'a.2', 'b']);
    expect(Object.values(json).map((e: any) => e.data_offsets)).toEqual([[0, 4], [4, 8], [8, 12]]);
    disposeAll(src);
  });

  test('non-contiguous and offset views are saved as their logical contents', () => {
    const base = Tensor.fromArray(Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3), [4, 6]);
    const views: Record<string, Tensor> = {
      transposed: base.transpose(0, 1), // (6, 4), strides (1, 6)
      rows: base.slice(0, 1, 3), // contiguous but starts 6 elements into the buffer
      strided: base.slice(1, 1, 6, 2), // (4, 3), every other column
      expanded: Tensor.fromArray([1, 2, 3], [3]).expand([2, 3]),
    };
    expect(views.transposed.isContiguous).toBe(false);
    expect(views.rows.offset).toBe(6);
    const loaded = parseSafetensors(serializeSafetensors(views));
    for (const [name, v] of Object.entries(views)) {
      const u = loaded.tensors.get(name)!;
      expect(u.shape).toEqual(v.shape);
      expect(u.toArray()).toEqual(v.toArray());
    }
    expect(loaded.tensors.get('rows')!.toArray()).toEqual([[0, 0.5, 1, 1.5, 2, 2.5], [3, 3.5, 4, 4.5, 5, 5.5]]);
    disposeAll(loaded.tensors);
    disposeAll(views);
    base.dispose();
  });

  test('tensors larger than one 16 MiB read/write chunk', () => {
    const n = 5_000_011; // 20 MB of float32, not a multiple of the chunk
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (i % 1000) - i / n;
    const t = Tensor.fromArray(a, [n]);
    const file = path.join(dir, 'big.safetensors');
    saveSafetensors(file, { t });
    const u = loadSafetensors(file).tensors.get('t')!;
    const back = u.data() as Float32Array;
    expect(back.length).toBe(n);
    expect(Buffer.compare(Buffer.from(back.buffer), Buffer.from(a.buffer))).toBe(0);
    u.dispose();
    t.dispose();
  });
});

describe('loading options', () => {
  test('subset loading reads only the named tensors', () => {
    const src = sampleTensors();
    const bytes = serializeSafetensors(src);
    const { tensors } = parseSafetensors(bytes, { names: ['i64', 'bf16'] });
    expect([...tensors.keys()].sort()).toEqual(['bf16', 'i64']);
    expect(bits(tensors.get('i64')!)).toEqual(bits(src.i64));
    disposeAll(tensors);
    expect(() => parseSafetensors(bytes, { names: ['f32', 'nope'] })).toThrow(/no tensor named "nope"/);
    disposeAll(src);
  });

  test('subset loading from a 1 GiB file touches only the requested bytes', () => {
    // A sparse file: a 1 GiB tensor we never load, then a small one at the end.
    const big = 2 ** 28;
    const header = JSON.stringify({ big: { dtype: 'F32', shape: [big], data_offsets: [0, big * 4] }, small: { dtype: 'F32', shape: [3], data_offsets: [big * 4, big * 4 + 12] } });
    const prefix = rawFile(header, 0);
    const file = path.join(dir, 'sparse.safetensors');
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, prefix);
    fs.writeSync(fd, new Uint8Array(new Float32Array([1, -2, 3.5]).buffer), 0, 12, prefix.length + big * 4);
    fs.closeSync(fd);
    const h = readSafetensorsHeader(file);
    expect([...h.entries.keys()]).toEqual(['big', 'small']);
    expect(h.entries.get('big')).toMatchObject({ fileDtype: 'F32', dtype: 'float32', shape: [big] });
    expect(h.dataStart).toBe(prefix.length);
    const before = memStats().liveBytes;
    const { tensors } = loadSafetensors(file, { names: ['small'] });
    expect(tensors.get('small')!.toArray()).toEqual([1, -2, 3.5]);
    expect(memStats().liveBytes - before).toBeLessThan(1 << 20);
    disposeAll(tensors);
  });

  test('dtype conversion on load converts floats only, rounding to nearest even', () => {
    const vals = new Float32Array([1, 1.00390625, 1.01171875, -3.3333333, 65504, 1e-3]);
    const src = { f: Tensor.fromArray(vals, [6]), h: Tensor.fromArray(new Uint16Array([0x3c00, 0xc000]), [2], { dtype: 'float16' }), i: Tensor.fromArray(new Int32Array([5, -7]), [2], { dtype: 'int32' }) };
    const bytes = serializeSafetensors(src);
    const { tensors } = parseSafetensors(bytes, { dtype: 'bfloat16' });
    expect(tensors.get('f')!.dtype).toBe('bfloat16');
    expect(tensors.get('h')!.dtype).toBe('bfloat16');
    expect(tensors.get('i')!.dtype).toBe('int32');
    // Independent f32 -> bf16 round-to-nearest-even on the bit pattern.
    const u = new Uint32Array(vals.buffer);
    const want = Array.from(u, (x) => ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff);
    expect(bits(tensors.get('f')!)).toEqual(want);
    expect(tensors.get('h')!.toArray()).toEqual([1, -2]);
    expect(bits(tensors.get('i')!)).toEqual([5, -7]);
    disposeAll(tensors);
    const half = parseSafetensors(bytes, { dtype: 'float16', names: ['f'] }).tensors.get('f')!;
    expect(half.dtype).toBe('float16');
    expect(Array.from(half.toFloat64()).slice(0, 5)).toEqual([1, 1.00390625, 1.01171875, -3.333984375, 65504]);
    half.dispose();
    expect(() => parseSafetensors(bytes, { dtype: 'int32' })).toThrow(SafetensorsError);
    disposeAll(src);
  });

  test('F64 is converted to float32 on load, across chunk boundaries', () => {
    const n = 2_500_003; // 20 MB of float64: two 16 MiB chunks
    const scale = Array.from({ length: 60 }, (_, k) => 10 ** (k - 30));
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = ((i * 0.6180339887) % 2 - 1) * scale[i % 60];
    // Specials: NaN, infinities, overflow to inf, f32 subnormals and underflow to 0, a rounding tie.
    a.set([NaN, -Infinity, 1e300, -1e39, 1e-40, 3e-46, -1e-300, 16777217], 7);
    const bytes = rawFile(JSON.stringify({ x: { dtype: 'F64', shape: [n], data_offsets: [0, n * 8] } }), new Uint8Array(a.buffer));
    const x = parseSafetensors(bytes).tensors.get('x')!;
    expect(x.dtype).toBe('float32');
    const got = x.data() as Float32Array;
    // Element assignment into a Float32Array is ECMAScript's round-to-nearest-even ToFloat32.
    const want = new Float32Array(n);
    for (let i = 0; i < n; i++) want[i] = a[i];
    expect(Number.isNaN(got[7]) && got[8] === -Infinity && got[9] === Infinity && got[12] === 0 && got[11] > 0).toBe(true);
    expect(Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), Buffer.from(want.buffer))).toBe(0);
    x.dispose();
  });
});

describe('interop with Python safetensors + torch', () => {
  // Written by tools/fixtures/make_safetensors.py; expected values are raw bit patterns from torch.
  const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'torch_dtypes.json'), 'utf8'));
  const file = path.join(FIXTURES, 'torch_dtypes.safetensors');
  const ourDtype: Record<string, DType> = { float32: 'float32', bfloat16: 'bfloat16', float16: 'float16', float64: 'float32', int64: 'int64', int32: 'int32', bool: 'bool', uint8: 'bool', int8: 'int8' };

  test('the header lists every tensor with its torch dtype and shape', () => {
    const h = readSafetensorsHeader(file);
    expect(h.metadata).toEqual(expected.metadata);
    expect([...h.entries.keys()].sort()).toEqual(Object.keys(expected.tensors).sort());
    for (const [name, e] of h.entries) {
      expect(e.shape).toEqual(expected.tensors[name].shape);
      expect(e.dtype).toBe(ourDtype[expected.tensors[name].dtype]);
    }
  });

  // The in-memory copy starts at an odd offset, so F64 data is misaligned for a Float64Array view.
  const misaligned = (): Uint8Array => {
    const b = fs.readFileSync(file);
    const host = new Uint8Array(b.length + 3);
    host.set(b, 3);
    return host.subarray(3);
  };
  test.each([
    ['file', () => loadSafetensors(file)],
    ['misaligned bytes', () => parseSafetensors(misaligned())],
  ])('every tensor loads with the exact values torch wrote (%s)', (_how, load) => {
    const { tensors, metadata } = load();
    expect(metadata).toEqual(expected.metadata);
    for (const [name, e] of Object.entries<any>(expected.tensors)) {
      const t = tensors.get(name)!;
      expect(t.shape).toEqual(e.shape);
      expect(t.dtype).toBe(ourDtype[e.dtype]);
      if (e.f64_hex) {
        const want = e.f64_hex.map((h: string) => Math.fround(new Float64Array(new BigUint64Array([BigInt('0x' + h)]).buffer)[0]));
        const got = Array.from(t.data() as Float32Array);
        got.forEach((v, i) => expect(Object.is(v, want[i])).toBe(true));
      } else if (e.bits) {
        expect(bits(t)).toEqual(e.bits);
      } else {
        const got = bits(t);
        expect(got.map((v) => Number(v))).toEqual(e.values);
      }
    }
    disposeAll(tensors);
  });
});

describe('int8 interop with Python safetensors + torch', () => {
  // torch_int8_mixed.safetensors: written by tools/fixtures/make_safetensors.py (int8_mixed()) with save_file.
  const file = path.join(FIXTURES, 'torch_int8_mixed.safetensors');
  const mixed = (): Map<string, Tensor> => new Map([
    ['w.q', Tensor.fromArray(new Int8Array([-128, 127, -1, 0, 1, -3]), [2, 3], { dtype: 'int8' })],
    ['w.scale', Tensor.fromArray([0.5, 0.25], [2])],
    ['mask', Tensor.fromArray(new Uint8Array([1, 0]), [2], { dtype: 'bool' })],
    ['a.q', Tensor.fromArray(new Int8Array([5]), [1], { dtype: 'int8' })],
  ]);

  test('our writer reproduces the torch-written file byte for byte (I8 next to F32 and BOOL)', () => {
    const src = mixed();
    const bytes = serializeSafetensors(src, { format: 'pt' });
    expect(Buffer.compare(Buffer.from(bytes), fs.readFileSync(file))).toBe(0);
    const out = path.join(dir, 'int8-mixed.safetensors');
    saveSafetensors(out, src, { format: 'pt' });
    expect(Buffer.compare(fs.readFileSync(out), fs.readFileSync(file))).toBe(0);
    disposeAll(src);
  });

  test('the torch-written int8 tensors load as int8 with their values', () => {
    const { tensors } = loadSafetensors(file);
    const q = tensors.get('w.q')!;
    expect([q.dtype, q.shape, Array.from(q.data() as Int8Array)]).toEqual(['int8', [2, 3], [-128, 127, -1, 0, 1, -3]]);
    expect(Array.from(tensors.get('a.q')!.data() as Int8Array)).toEqual([5]);
    disposeAll(tensors);
  });
});

describe('corrupted and hostile files are refused', () => {
  // The valid base: a F32 (2,3) = 24 bytes, b I32 (4) = 16 bytes, c BF16 (3) = 6 bytes.
  const ent = (dtype: unknown, shape: unknown, offs: unknown): unknown => ({ dtype, shape, data_offsets: offs });
  const valid = { a: ent('F32', [2, 3], [0, 24]), b: ent('I32', [4], [24, 40]), c: ent('BF16', [3], [40, 46]) };
  const hdr = (over: Record<string, unknown>): string => JSON.stringify({ ...valid, ...over });
  const good = rawFile(hdr({}), 46);
  const withLength = (len: bigint): Uint8Array => {
    const b = good.slice();
    new DataView(b.buffer).setBigUint64(0, len, true);
    return b;
  };
  const deep = '['.repeat(5000) + ']'.repeat(5000);

  const cases: [string, Uint8Array, string, string?][] = [
    ['file shorter than 8 bytes', good.slice(0, 5), 'too short'],
    ['truncated header', good.slice(0, 30), 'runs past the end of the file'],
    ['truncated data', good.slice(0, good.length - 5), 'run past the end of the data buffer', 'c'],
    ['header length past the end of file', withLength(BigInt(good.length)), 'runs past the end of the file'],
    ['header length huge (2^64 - 1)', withLength(2n ** 64n - 1n), 'exceeds the 100000000-byte limit'],
    ['header length just over the cap', withLength(100_000_001n), 'exceeds the 100000000-byte limit'],
    ['header length zero', withLength(0n), 'too small'],
    ['non-JSON header', rawFile('{"a": nope}', 46), 'not valid JSON'],
    ['JSON with trailing garbage', rawFile(hdr({}) + ' x', 46), 'not valid JSON'],
    ['invalid UTF-8 in header', rawFile('{"\xff"}', 0).map((v) => (v === 0xc3 ? 0xff : v)), 'not valid UTF-8'],
    ['JSON array header', rawFile('[]', 0), 'must be a JSON object, got an array'],
    ['JSON string header', rawFile('"x"', 0), 'must be a JSON object'],
    ['overlapping offsets', rawFile(hdr({ b: ent('I32', [4], [20, 36]), c: ent('BF16', [5], [36, 46]) }), 46), 'overlap', 'b'],
    ['zero-size tensor inside another', rawFile(hdr({ z: ent('F32', [0], [8, 8]) }), 46), 'overlap', 'z'],
    ['offsets past the end', rawFile(hdr({ c: ent('BF16', [3], [46, 52]) }), 46), 'run past the end of the data buffer', 'c'],
    ['hole between tensors', rawFile(hdr({ c: ent('BF16', [3], [44, 50]) }), 50), 'hole in the data buffer', 'c'],
    ['hole at the start', rawFile(JSON.stringify({ a: ent('F32', [2], [8, 16]) }), 16), 'hole in the data buffer', 'a'],
    ['bytes after the last tensor', rawFile(hdr({}), 50), '4 bytes at the end of the data buffer'],
    ['wrong dtype size', rawFile(hdr({ c: ent('F32', [3], [40, 46]) }), 46), 'needs 12 bytes', 'c'],
    ['shape does not match byte length', rawFile(hdr({ a: ent('F32', [2, 2], [0, 24]) }), 46), 'needs 16 bytes', 'a'],
    ['negative shape entry', rawFile(hdr({ a: ent('F32', [-2, -3], [0, 24]) }), 46), 'shape entries must be non-negative integers', 'a'],
    ['fractional shape entry', rawFile(hdr({ a: ent('F32', [2.5, 3], [0, 24]) }), 46), 'got 2.5', 'a'],
    ['integer-valued float "2.0"', rawFile(hdr({}).replace('[2,3]', '[2.0,3]'), 46), 'got 2.0', 'a'],
    ['exponent "2e0"', rawFile(hdr({}).replace('[2,3]', '[2e0,3]'), 46), 'got 2e0', 'a'],
    ['string shape entry', rawFile(hdr({ a: ent('F32', ['2', 3], [0, 24]) }), 46), 'shape entries must be', 'a'],
    ['shape not an array', rawFile(hdr({ a: ent('F32', 6, [0, 24]) }), 46), 'shape must be an array', 'a'],
    ['numel beyond 2^53', rawFile(hdr({ a: ent('F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 24]) }), 46), 'too many elements', 'a'],
    ['offset beyond 2^53', rawFile(hdr({}).replace('[40,46]', '[40,99999999999999999999]'), 46), 'below 2^53', 'c'],
    ['unknown dtype', rawFile(hdr({ b: ent('Q7', [4], [24, 40]) }), 46), 'unknown dtype "Q7"', 'b'],
    ['dtype that is an Object.prototype key', rawFile(hdr({ b: ent('constructor', [4], [24, 40]) }), 46), 'unknown dtype "constructor"', 'b'],
    ['non-string dtype', rawFile(hdr({ b: ent(4, [4], [24, 40]) }), 46), 'dtype must be a string', 'b'],
    ['missing dtype', rawFile(hdr({ b: { shape: [4], data_offsets: [24, 40] } }), 46), 'missing "dtype"', 'b'],
    ['entry not an object', rawFile(hdr({ b: [1, 2] }), 46), 'entry must be an object', 'b'],
    ['duplicate tensor names', rawFile(hdr({}).replace('}}', '},"a":' + JSON.stringify(valid.a) + '}'), 46), 'duplicate tensor name "a"'],
    ['duplicate key inside an entry', rawFile(hdr({}).replace('"dtype":"F32"', '"dtype":"F32","dtype":"F32"'), 46), 'duplicate key "dtype"'],
    ['metadata with a non-string value', rawFile(hdr({ __metadata__: { format: 'pt', n: 1 } }), 46), '__metadata__ value for key "n" must be a string'],
    ['metadata that is an array', rawFile(hdr({ __metadata__: ['x'] }), 46), '__metadata__ must be an object'],
    ['begin > end', rawFile(hdr({ c: ent('BF16', [0], [46, 40]) }), 46), 'begin 46 is after end 40', 'c'],
    ['three data_offsets', rawFile(hdr({ c: ent('BF16', [3], [40, 46, 46]) }), 46), 'data_offsets must be an array [begin, end]', 'c'],
    ['negative offset', rawFile(hdr({ a: ent('F32', [2, 3], [-24, 0]) }), 46), 'data_offsets must be non-negative integers', 'a'],
    ['deep nesting in an ignored field', rawFile(hdr({}).replace('"shape":[4]', `"x":${deep},"shape":[4]`), 46), 'nesting deeper'],
  ];

  for (const [label, bytes, message, tensor] of cases) {
    test(label, () => {
      const before = memStats().liveBytes;
      const file = path.join(dir, 'bad.safetensors');
      fs.writeFileSync(file, bytes);
      const attempts: [string, () => unknown][] = [
        ['parse', () => parseSafetensors(bytes)],
        ['load', () => loadSafetensors(file)],
        ['header', () => readSafetensorsHeader(file)],
      ];
      for (const [how, f] of attempts) {
        let err: unknown;
        try { f(); } catch (e) { err = e; }
        expect({ how, err: err instanceof SafetensorsError }).toEqual({ how, err: true });
        const e = err as SafetensorsError;
        expect(e.message).toContain(message);
        expect(e.message).toContain(how === 'parse' ? '<buffer>' : file);
        if (tensor) expect(e.tensor).toBe(tensor);
      }
      expect(memStats().liveBytes).toBe(before);
    });
  }

  test('the valid base file itself loads (so the cases above fail for their own reason)', () => {
    const { tensors } = parseSafetensors(good);
    expect([...tensors.keys()]).toEqual(['a', 'b', 'c']);
    disposeAll(tensors);
  });

  test('a dtype the format allows but Stellar cannot load is listed, then refused by name', () => {
    const bytes = rawFile(JSON.stringify({ ok: ent('F32', [1], [0, 4]), q: ent('U16', [2], [4, 8]) }), 8);
    const file = path.join(dir, 'u16.safetensors');
    fs.writeFileSync(file, bytes);
    expect(readSafetensorsHeader(file).entries.get('q')).toMatchObject({ fileDtype: 'U16', dtype: null });
    const before = memStats().liveBytes;
    expect(() => loadSafetensors(file)).toThrow(/tensor "q": dtype U16 cannot be loaded/);
    expect(memStats().liveBytes).toBe(before);
    const { tensors } = loadSafetensors(file, { names: ['ok'] });
    expect(tensors.size).toBe(1);
    disposeAll(tensors);
  });

  test('reference-compatible leniency: leading whitespace, null metadata, extra entry keys, empty file', () => {
    const h = ' ' + JSON.stringify({ __metadata__: null, a: { ...(valid.a as object), extra: [1, { y: 2 }] } });
    const { tensors, metadata } = parseSafetensors(rawFile(h, 24));
    expect(tensors.get('a')!.shape).toEqual([2, 3]);
    expect(metadata).toEqual({});
    disposeAll(tensors);
    expect(parseSafetensors(serializeSafetensors({})).tensors.size).toBe(0);
  });
});

describe('saving', () => {
  test('atomic replace leaves no temporary files, and a failed save keeps the old file', () => {
    const sub = fs.mkdtempSync(path.join(dir, 'atomic-'));
    const file = path.join(sub, 'model.safetensors');
    const a = Tensor.fromArray([1, 2, 3], [3]);
    const b = Tensor.fromArray([4, 5], [2]);
    saveSafetensors(file, { a });
    saveSafetensors(file, { b }, { step: '2' });
    expect(fs.readdirSync(sub)).toEqual(['model.safetensors']);
    const first = loadSafetensors(file);
    expect([...first.tensors.keys()]).toEqual(['b']);
    expect(first.metadata).toEqual({ step: '2' });
    disposeAll(first.tensors);

    const old = fs.readFileSync(file);
    const gone = Tensor.fromArray([0], [1]);
    gone.dispose();
    expect(() => saveSafetensors(file, { a, gone })).toThrow(/tensor "gone": tensor has been disposed/);
    expect(() => saveSafetensors(file, { a }, { n: 1 as unknown as string })).toThrow(/metadata value for key "n" must be a string/);
    expect(() => saveSafetensors(file, { __metadata__: a })).toThrow(/reserved/);
    expect(() => saveSafetensors(path.join(sub, 'missing-dir', 'x.safetensors'), { a })).toThrow(SafetensorsError);
    expect(fs.readdirSync(sub)).toEqual(['model.safetensors']);
    expect(Buffer.compare(fs.readFileSync(file), old)).toBe(0);
    a.dispose();
    b.dispose();
  });

  test('saving non-contiguous tensors does not leak the temporary copies', () => {
    const base = Tensor.fromArray(Float32Array.from({ length: 12 }, (_, i) => i), [3, 4]);
    const tr = base.transpose();
    const before = memStats().liveBytes;
    saveSafetensors(path.join(dir, 'tr.safetensors'), { tr });
    serializeSafetensors({ tr });
    expect(memStats().liveBytes).toBe(before);
    tr.dispose();
    base.dispose();
  });
});
