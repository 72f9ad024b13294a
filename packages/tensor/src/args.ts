// Packs kernel arguments into one reusable Float64Array (ints, floats and tensor views) and runs a kernel.
import { native, kernel } from '@stellar/native';
import { DTYPE_CODE } from './dtype';
import type { Tensor } from './tensor';

let buf = new Float64Array(256);
let pos = 0;

function ensure(n: number): void {
  if (pos + n <= buf.length) return;
  const next = new Float64Array(Math.max(buf.length * 2, pos + n));
  next.set(buf.subarray(0, pos));
  buf = next;
}

export interface ArgBuilder {
  begin(): ArgBuilder;
  num(v: number): ArgBuilder;
  bool(v: boolean): ArgBuilder;
  u64(v: bigint): ArgBuilder;
  tensor(t: Tensor): ArgBuilder;
  view(t: Tensor, shape: readonly number[], strides: readonly number[], offset?: number): ArgBuilder;
  run(device: string, name: string): void;
}

/** Builder for one kernel call; the layout must match what the C++ kernel reads, in order. */
export const args: ArgBuilder = {
  begin(): ArgBuilder { pos = 0; return args; },
  num(v: number): ArgBuilder { ensure(1); buf[pos++] = v; return args; },
  bool(v: boolean): ArgBuilder { ensure(1); buf[pos++] = v ? 1 : 0; return args; },
  /** A 64-bit unsigned value as (hi, lo) 32-bit halves. */
  u64(v: bigint): ArgBuilder {
    ensure(2);
    buf[pos++] = Number((v >> 32n) & 0xffffffffn);
    buf[pos++] = Number(v & 0xffffffffn);
    return args;
  },
  tensor(t: Tensor): ArgBuilder {
    const nd = t.shape.length;
    ensure(4 + 2 * nd);
    buf[pos++] = t.storage.handle;
    buf[pos++] = DTYPE_CODE[t.dtype];
    buf[pos++] = t.offset;
    buf[pos++] = nd;
    for (let i = 0; i < nd; i++) buf[pos++] = t.shape[i];
    for (let i = 0; i < nd; i++) buf[pos++] = t.strides[i];
    return args;
  },
  /** A tensor argument with a replacement shape/strides (e.g. broadcast or flattened views). */
  view(t: Tensor, shape: readonly number[], strides: readonly number[], offset = t.offset): ArgBuilder {
    const nd = shape.length;
    ensure(4 + 2 * nd);
    buf[pos++] = t.storage.handle;
    buf[pos++] = DTYPE_CODE[t.dtype];
    buf[pos++] = offset;
    buf[pos++] = nd;
    for (let i = 0; i < nd; i++) buf[pos++] = shape[i];
    for (let i = 0; i < nd; i++) buf[pos++] = strides[i];
    return args;
  },
  /** Runs `<device>/<name>` with the packed arguments. */
  run(device: string, name: string): void {
    native.exec(kernel(`${device}/${name}`), buf.subarray(0, pos));
  },
};
