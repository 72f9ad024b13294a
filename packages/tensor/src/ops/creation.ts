// Tensor constructors: from data, filled, ranges, and device transfer.
import { Tensor, type TensorOptions } from '../tensor';
import { args } from '../args';
import type { DType, HostArray } from '../dtype';
import type { Device } from '../device';
import type { Shape } from '../shape';

type Nested = number | boolean | Nested[];

function flatten(data: Nested, shape: number[], out: number[], depth: number): void {
  if (Array.isArray(data)) {
    if (shape.length <= depth) shape.push(data.length);
    else if (shape[depth] !== data.length) throw new Error('ragged nested array: rows have different lengths');
    for (const d of data) flatten(d, shape, out, depth + 1);
  } else {
    if (shape.length !== depth) throw new Error('ragged nested array: mixed depths');
    out.push(typeof data === 'boolean' ? (data ? 1 : 0) : data);
  }
}

/** Builds a tensor from nested arrays, a number, or a typed array (with `shape`). */
export function tensor(data: Nested | HostArray, opts: TensorOptions & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    return Tensor.fromArray(data as HostArray, opts.shape ?? [(data as HostArray).length], opts);
  }
  const shape: number[] = [];
  const flat: number[] = [];
  flatten(data, shape, flat, 0);
  return Tensor.fromArray(flat, opts.shape ?? shape, opts);
}

export function empty(shape: Shape, opts: TensorOptions = {}): Tensor { return Tensor.empty(shape, opts); }

export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  const t = Tensor.empty(shape, { dtype: opts.dtype, device: opts.device });
  fill_(t, value);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

export const zeros = (shape: Shape, opts: TensorOptions = {}): Tensor => full(shape, 0, opts);
export const ones = (shape: Shape, opts: TensorOptions = {}): Tensor => full(shape, 1, opts);
export const zerosLike = (t: Tensor, opts: TensorOptions = {}): Tensor => full(t.shape, 0, { dtype: t.dtype, device: t.device, ...opts });
export const onesLike = (t: Tensor, opts: TensorOptions = {}): Tensor => full(t.shape, 1, { dtype: t.dtype, device: t.device, ...opts });

/** Writes `value` into every element of t (in place, no autograd). */
export function fill_(t: Tensor, value: number): Tensor {
  if (t.size > 0) args.begin().num(value).tensor(t).run(t.device, 'fill');
  return t;
}

/** [start, end) with `step`, like torch.arange. */
export function arange(start: number, end?: number, step = 1, opts: { dtype?: DType; device?: Device } = {}): Tensor {
  if (end === undefined) { end = start; start = 0; }
  if (step === 0) throw new Error('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const t = Tensor.empty([n], { dtype: opts.dtype ?? 'float32', device: opts.device });
  if (n > 0) args.begin().num(start).num(step).tensor(t).run(t.device, 'arange');
  return t;
}
