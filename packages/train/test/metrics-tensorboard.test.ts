// TensorBoard event files: CRC known answers, TFRecord/protobuf read-back in TS, and loading in the real tensorboard.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { TensorBoardWriter, crc32, crc32c, maskedCrc32c, TF_EVENT_FILE_VERSION } from '../src/metrics';
import { decodeEvent, readTfRecords } from './metrics-tfrecord-reader';

const ascii = (s: string) => new TextEncoder().encode(s);
let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-tb-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function onlyEventFile(d: string): string {
  const files = fs.readdirSync(d).filter((f) => f.includes('tfevents'));
  expect(files).toHaveLength(1);
  return path.join(d, files[0]);
}

describe('CRC', () => {
  test('CRC-32C known answers (check value and RFC 3720 iSCSI vectors)', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  test('CRC-32C can be fed in pieces', () => {
    const data = ascii('The quick brown fox jumps over the lazy dog');
    expect(crc32c(data.subarray(10), crc32c(data.subarray(0, 10)))).toBe(crc32c(data));
  });

  test('masked CRC matches the TFRecord definition on a known value', () => {
    // crc32c("123456789") = 0xE3069283; rotate right by 15, add 0xa282ead8 (mod 2^32).
    const rot = ((0xe3069283 >>> 15) | (0xe3069283 << 17)) >>> 0;
    expect(maskedCrc32c(ascii('123456789'))).toBe((rot + 0xa282ead8) % 2 ** 32);
  });

  test('CRC-32 (PNG/zlib) known answer and agreement with zlib', () => {
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919 + 13) & 0xff);
    const z = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
    if (z) expect(crc32(data)).toBe(z(data));
  });
});

describe('TensorBoardWriter', () => {
  test('reads back exactly what was written: file_version first, then tagged float32 scalars', () => {
    const w = new TensorBoardWriter(dir);
    expect(path.basename(w.path)).toMatch(new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${os.hostname().replace(/[.]/g, '\\.')}$`));
    const written: { tag: string; value: number; step: number; wallTime: number }[] = [];
    for (let step = 0; step < 30; step++) {
      const wallTime = 1.7e9 + step * 0.25;
      const loss = 10 * Math.exp(-step / 10) + 0.1234567;
      const lr = 3e-4 * Math.min(1, (step + 1) / 5);
      w.addScalar('train/loss', loss, step, wallTime);
      w.addScalar('train/lr', lr, step, wallTime);
      written.push({ tag: 'train/loss', value: loss, step, wallTime }, { tag: 'train/lr', value: lr, step, wallTime });
    }
    w.addScalars({ 'eval/loss': 2.5, 'eval/ppl': Math.exp(2.5) }, 3_000_000_000, 1.8e9); // step beyond int32
    w.close();
    const events = readTfRecords(fs.readFileSync(w.path)).map(decodeEvent);
    expect(events[0].fileVersion).toBe(TF_EVENT_FILE_VERSION);
    expect(events[0].fileVersion).toBe('brain.Event:2');
    expect(Math.abs(events[0].wallTime - Date.now() / 1000)).toBeLessThan(60);
    const scalars = events.slice(1);
    expect(scalars).toHaveLength(written.length + 2);
    written.forEach((x, i) => {
      const e = scalars[i];
      expect(e.step).toBe(x.step);
      expect(e.wallTime).toBe(x.wallTime);
      expect(e.values).toEqual([{ tag: x.tag, simpleValue: Math.fround(x.value) }]);
    });
    expect(scalars[written.length]).toEqual({ wallTime: 1.8e9, step: 3_000_000_000, values: [{ tag: 'eval/loss', simpleValue: 2.5 }] });
    expect(scalars[written.length + 1].values![0]).toEqual({ tag: 'eval/ppl', simpleValue: Math.fround(Math.exp(2.5)) });
  });

  test('non-finite values survive as float32 NaN / Infinity', () => {
    const w = new TensorBoardWriter(dir);
    w.addScalar('loss', NaN, 1, 1);
    w.addScalar('loss', Infinity, 2, 2);
    w.close();
    const values = readTfRecords(fs.readFileSync(w.path)).map(decodeEvent).slice(1).map((e) => e.values![0].simpleValue);
    expect(values[0]).toBeNaN();
    expect(values[1]).toBe(Infinity);
  });

  test('the reader rejects a corrupted byte (so the CRCs above are really checked)', () => {
    const w = new TensorBoardWriter(dir);
    w.addScalar('loss', 1.5, 7, 1);
    w.close();
    const buf = fs.readFileSync(w.path);
    for (const at of [3, 14, buf.length - 10]) {
      const bad = Buffer.from(buf);
      bad[at] ^= 0x01;
      expect(() => readTfRecords(bad)).toThrow(/CRC mismatch|truncated/);
    }
  });

  test('records are buffered until flush(), maxQueue or close()', () => {
    const w = new TensorBoardWriter(dir, { maxQueue: 5, flushSecs: 3600 });
    const count = () => readTfRecords(fs.readFileSync(w.path)).length;
    expect(count()).toBe(1); // the file_version record is written at once
    for (let i = 0; i < 4; i++) w.addScalar('x', i, i);
    expect(count()).toBe(1);
    w.addScalar('x', 4, 4);
    expect(count()).toBe(6);
    w.addScalar('x', 5, 5);
    w.flush();
    expect(count()).toBe(7);
    w.addScalar('x', 6, 6);
    w.close();
    expect(count()).toBe(8);
    w.close(); // idempotent
    expect(() => w.addScalar('x', 7, 7)).toThrow(/after close/);
  });

  test('two writers started in the same second get separate files', () => {
    const a = new TensorBoardWriter(dir);
    const b = new TensorBoardWriter(dir);
    expect(a.path).not.toBe(b.path);
    a.close();
    b.close();
    for (const p of [a.path, b.path]) expect(readTfRecords(fs.readFileSync(p)).map(decodeEvent)[0].fileVersion).toBe('brain.Event:2');
  });
});

// The real TensorBoard loader, when some Python has it: $STELLAR_PYTHON, <repo>/.venv-ref/bin/python, python3.
function findPython(): string | null {
  const candidates = [process.env.STELLAR_PYTHON, path.join(__dirname, '..', '..', '..', '.venv-ref', 'bin', 'python'), 'python3'];
  for (const py of candidates) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import tensorboard.backend.event_processing.event_accumulator'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}
const python = findPython();
const tbTest = python ? test : test.skip;
const tbTitle = python ? 'tensorboard EventAccumulator loads the event file and finds every scalar'
  : 'SKIPPED: no Python with the tensorboard package (set STELLAR_PYTHON) — tensorboard EventAccumulator loads the event file';

tbTest(tbTitle, () => {
  const w = new TensorBoardWriter(dir);
  const expected: Record<string, [number, number, number][]> = { 'train/loss': [], 'train/lr': [] };
  for (let step = 1; step <= 50; step++) {
    const t = 1.7e9 + step;
    const loss = 5 / Math.sqrt(step);
    w.addScalar('train/loss', loss, step, t);
    expected['train/loss'].push([step, Math.fround(loss), t]);
    if (step % 10 === 0) {
      w.addScalar('train/lr', 1e-3 / step, step, t);
      expected['train/lr'].push([step, Math.fround(1e-3 / step), t]);
    }
  }
  w.close();
  const script = path.join(__dirname, '..', '..', '..', 'tools', 'fixtures', 'read_tensorboard.py');
  const r = spawnSync(python!, [script, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`read_tensorboard.py failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(out.file_versions).toEqual(['brain.Event:2']);
  expect(Object.keys(out.scalars).sort()).toEqual(['train/loss', 'train/lr']);
  for (const tag of Object.keys(expected)) {
    expect(out.scalars[tag]).toHaveLength(expected[tag].length);
    out.scalars[tag].forEach(([step, value, wall]: number[], i: number) => {
      expect(step).toBe(expected[tag][i][0]);
      expect(value).toBe(expected[tag][i][1]); // Python floats hold float32 exactly
      expect(wall).toBe(expected[tag][i][2]);
    });
  }
}, 60000);
