// Packs kernel arguments into one reusable Float64Array (ints, floats and tensor views) and runs a kernel.
import { native, kernel } from '@stellar/native';
import { DTYPE_CODE } from './dtype';
import type { Tensor } from './tensor';

let buf = new Float64Array(256);
let pos = 0;
// Views of buf by length: run() is on every op's path, and a fresh subarray per call costs an
// allocation (and GC work) comparable to the addon call itself.
let views: Float64Array[] = [];

function ensure(n: number): void {
  if (pos + n <= buf.length) return;
  const next = new Float64Array(Math.max(buf.length * 2, pos + n));
  next.set(buf.subarray(0, pos));
  buf = next;
  views = [];
}

// Kernel ids by device then name, so run() needs no string concatenation per call.
const ids = new Map<string, Map<string, number>>();
function kernelIdOf(device: string, name: string): number {
  let byName = ids.get(device);
  if (!byName) ids.set(device, (byName = new Map()));
  let id = byName.get(name);
  if (id === undefined) byName.set(name, (id = kernel(`${device}/${name}`)));
  return id;
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
    const id = kernelIdOf(device, name);
    const v = views[pos] ?? (views[pos] = buf.subarray(0, pos));
    native.exec(id, v);
  },
};
