// Writes TensorBoard scalar event files natively: TFRecord framing around protobuf `Event` messages.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maskedCrc32c } from './crc';
import { ProtoWriter } from './protobuf';

// Field numbers from tensorboard/compat/proto/event.proto and summary.proto.
const EVENT_WALL_TIME = 1;
const EVENT_STEP = 2;
const EVENT_FILE_VERSION = 3;
const EVENT_SUMMARY = 5;
const SUMMARY_VALUE = 1;
const VALUE_TAG = 1;
const VALUE_SIMPLE_VALUE = 2;

/** The version string TensorBoard expects in the first record of every event file. */
export const TF_EVENT_FILE_VERSION = 'brain.Event:2';

/** One TFRecord: uint64 length, masked CRC32C of the length bytes, the data, masked CRC32C of the data. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

function encodeEvent(wallTime: number, step: number, what: (e: ProtoWriter) => void): Uint8Array {
  const e = new ProtoWriter().double(EVENT_WALL_TIME, wallTime);
  if (step !== 0) e.int64(EVENT_STEP, step); // proto3 omits default values
  what(e);
  return e.finish();
}

export interface TensorBoardWriterOptions {
  /** Write buffered records after this many seconds have passed since the last write (default 10). */
  flushSecs?: number;
  /** Write buffered records once this many are queued (default 100). */
  maxQueue?: number;
}

/** Appends scalars to `<logDir>/events.out.tfevents.<unix seconds>.<hostname>`; one file per writer. */
export class TensorBoardWriter {
  readonly path: string;
  private fd: number | null;
  private queue: Buffer[] = [];
  private lastWrite = Date.now();
  private readonly flushMs: number;
  private readonly maxQueue: number;

  constructor(logDir: string, opts: TensorBoardWriterOptions = {}) {
    this.flushMs = (opts.flushSecs ?? 10) * 1000;
    this.maxQueue = opts.maxQueue ?? 100;
    fs.mkdirSync(logDir, { recursive: true });
    const now = Date.now() / 1000;
    const base = path.join(logDir, `events.out.tfevents.${Math.floor(now)}.${os.hostname()}`);
    // A second writer started in the same second (e.g. a quick resume) gets its own file instead of sharing one.
    let fd: number | null = null;
    let p = base;
    for (let n = 1; fd === null; n++) {
      try {
        fd = fs.openSync(p, 'wx');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        p = `${base}.${n}`;
      }
    }
    this.fd = fd;
    this.path = p;
    this.queue.push(tfRecord(encodeEvent(now, 0, (e) => e.string(EVENT_FILE_VERSION, TF_EVENT_FILE_VERSION))));
    this.flush();
  }

  /** Records `value` under `tag` at `step`; `wallTime` is in seconds since the epoch (default now). */
  addScalar(tag: string, value: number, step: number, wallTime = Date.now() / 1000): void {
    if (this.fd === null) throw new Error(`TensorBoardWriter: addScalar('${tag}') after close() (${this.path})`);
    if (!Number.isInteger(step)) throw new Error(`TensorBoardWriter: step must be an integer, got ${step}`);
    const v = new ProtoWriter().string(VALUE_TAG, tag).float(VALUE_SIMPLE_VALUE, value);
    const summary = new ProtoWriter().message(SUMMARY_VALUE, v);
    this.queue.push(tfRecord(encodeEvent(wallTime, step, (e) => e.message(EVENT_SUMMARY, summary))));
    if (this.queue.length >= this.maxQueue || Date.now() - this.lastWrite >= this.flushMs) this.flush();
  }

  /** Records several scalars at one step, e.g. `{ 'train/loss': 3.2, 'train/lr': 3e-4 }`. */
  addScalars(values: Record<string, number>, step: number, wallTime?: number): void {
    for (const [tag, v] of Object.entries(values)) this.addScalar(tag, v, step, wallTime);
  }

  /** Writes queued records to the file. */
  flush(): void {
    if (this.fd === null || this.queue.length === 0) return;
    const buf = Buffer.concat(this.queue);
    this.queue = [];
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    this.lastWrite = Date.now();
  }

  /** Flushes and closes the file; later calls are no-ops. */
  close(): void {
    if (this.fd === null) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
