// The Tensor: a strided view (shape, strides, offset, dtype, device) of a reference-counted native
// buffer, with autograd state. Operations live in ./ops; the methods here delegate to them.
import { native } from '@stellar/native';
import { Storage } from './storage';
import { DTYPE_SIZE, hostArray, isFloat, type DType, type HostArray } from './dtype';
import type { Device } from './device';
import { contiguousStrides, isContiguous, numel, shapesEqual, type Shape } from './shape';
import { trackTensor, keep, setTensorCheck } from './scope';
import { backward as runBackward, type Node, type BackwardOptions } from './autograd';
import * as ops from './ops';

// Safety net only: tensors that are garbage collected without dispose() give their buffer back.
const finalizer = new FinalizationRegistry<Storage>((s) => s.release());

export interface TensorOptions { dtype?: DType; device?: Device; requiresGrad?: boolean }

export class Tensor {
  private static nextId = 1;
  readonly id = Tensor.nextId++;
  /** Set for tensors produced by an op while recording; null for leaves. */
  gradFn: Node | null = null;
  outputIndex = 0;
  grad: Tensor | null = null;
  name?: string;
  private _requiresGrad = false;
  private _disposed = false;

  private constructor(
    readonly storage: Storage,
    readonly shape: number[],
    readonly strides: number[],
    readonly offset: number,
    readonly dtype: DType,
  ) {
    trackTensor(this);
    finalizer.register(this, storage, this);
  }

  /** Internal: wraps a storage reference the caller already owns. */
  static _fromStorage(storage: Storage, shape: number[], strides: number[], offset: number, dtype: DType): Tensor {
    return new Tensor(storage, shape, strides, offset, dtype);
  }

  /** Uninitialized contiguous tensor. */
  static empty(shape: Shape, opts: TensorOptions = {}): Tensor {
    const dtype = opts.dtype ?? 'float32';
    for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
    const s = Storage.alloc(numel(shape) * DTYPE_SIZE[dtype], opts.device ?? 'cpu');
    const t = new Tensor(s, [...shape], contiguousStrides(shape), 0, dtype);
    if (opts.requiresGrad) t.requiresGrad = true;
    return t;
  }

  /** A contiguous tensor holding a copy of host data. */
  static fromArray(data: HostArray | ArrayLike<number>, shape: Shape, opts: TensorOptions = {}): Tensor {
    const dtype = opts.dtype ?? 'float32';
    const n = numel(shape);
    if (data.length !== n) throw new Error(`${data.length} values do not fill a tensor of shape [${shape.join(', ')}] (${n} elements)`);
    const t = Tensor.empty(shape, { dtype, device: opts.device });
    let host: HostArray;
    if (isHostArrayOf(data, dtype)) host = data as HostArray;
    else if (dtype === 'bfloat16' || dtype === 'float16') {
      const f = Tensor.fromArray(data as ArrayLike<number>, shape, { device: opts.device });
      const c = ops.cast(f, dtype);
      f.dispose();
      if (opts.requiresGrad) c.requiresGrad = true;
      t.dispose();
      return c;
    } else {
      host = hostArray(dtype, n);
      if (host instanceof BigInt64Array) for (let i = 0; i < n; i++) host[i] = BigInt(Math.trunc(Number((data as ArrayLike<number>)[i])));
      else if (host instanceof Int8Array) fillInt8(host, data as ArrayLike<number>);
      else (host as Float32Array).set(data as ArrayLike<number>);
    }
    if (n > 0) native.write(t.storage.handle, 0, host);
    if (opts.requiresGrad) t.requiresGrad = true;
    return t;
  }

  get ndim(): number { return this.shape.length; }
  get size(): number { return numel(this.shape); }
  get device(): Device { return this.storage.device; }
  get disposed(): boolean { return this._disposed; }
  get isContiguous(): boolean { return isContiguous(this.shape, this.strides); }
  get isLeaf(): boolean { return this.gradFn === null; }

  get requiresGrad(): boolean { return this._requiresGrad; }
  set requiresGrad(v: boolean) {
    if (v && !isFloat(this.dtype)) throw new Error(`only floating point tensors can require grad (this one is ${this.dtype})`);
    if (!v && this.gradFn) throw new Error('cannot turn off requiresGrad on a non-leaf tensor; use detach()');
    this._requiresGrad = v;
  }
  /** Chainable form: `t.requiresGrad_()`. */
  requiresGrad_(v = true): this { this.requiresGrad = v; return this; }

  /** Internal: called by runOp for op outputs. */
  _setGradFn(node: Node, index: number): void {
    if (!isFloat(this.dtype)) return;
    this.gradFn = node;
    this.outputIndex = index;
    this._requiresGrad = true;
  }

  /** Internal: removes this tensor from open scopes (autograd owns it). */
  _untrack(): this { return keep(this); }

  /** A new Tensor object sharing storage, with no graph history; owned by autograd (not scoped). */
  detachedRef(): Tensor {
    const t = new Tensor(this.storage.retain(), this.shape, this.strides, this.offset, this.dtype);
    return keep(t);
  }

  /** A view of the same data that does not require grad and has no history. */
  detach(): Tensor {
    return new Tensor(this.storage.retain(), this.shape, this.strides, this.offset, this.dtype);
  }

  shapeEquals(shape: Shape): boolean { return shapesEqual(this.shape, shape); }

  /** Releases this tensor's reference to its buffer (views and graph references keep theirs). */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    finalizer.unregister(this);
    this.storage.release();
  }
  [Symbol.dispose](): void { this.dispose(); }

  /** Keeps this tensor alive past the enclosing tidy() scopes. */
  keep(): this { return keep(this); }

  /** Copies the elements (in logical row-major order) to a host array. */
  data(): HostArray {
    this.assertAlive();
    if (!this.isContiguous) {
      const c = ops.contiguous(this);
      try { return c.data(); } finally { c.dispose(); }
    }
    const out = hostArray(this.dtype, this.size);
    if (this.size > 0) native.readInto(this.storage.handle, this.offset * DTYPE_SIZE[this.dtype], out);
    return out;
  }

  /** Elements as float64 numbers (bf16/f16 decoded), for tests and small results. */
  toFloat64(): Float64Array {
    if (this.dtype === 'bfloat16' || this.dtype === 'float16') {
      const f = ops.cast(this, 'float32');
      try { return Float64Array.from(f.data() as Float32Array); } finally { f.dispose(); }
    }
    const d = this.data();
    return d instanceof BigInt64Array ? Float64Array.from(d, (v) => Number(v)) : Float64Array.from(d as Float32Array);
  }

  /** Nested JS arrays (numbers; int64 values converted to number). */
  toArray(): unknown {
    const flat = Array.from(this.toFloat64());
    const build = (dim: number, off: number): unknown => {
      if (dim === this.ndim) return flat[off];
      const stride = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  item(): number {
    if (this.size !== 1) throw new Error(`item() needs a single-element tensor, got shape [${this.shape.join(', ')}]`);
    return this.toFloat64()[0];
  }

  backward(grad?: Tensor, opts: BackwardOptions = {}): void {
    runBackward(this, grad, opts, {
      onesLike: (t) => ops.full(t.shape, 1, { dtype: t.dtype, device: t.device }),
      add: (a, b) => ops.add(a, b),
      accumulate: (leaf, g, owned) => {
        if (!leaf.requiresGrad) return;
        if (leaf.grad) {
          ops.addInPlace(leaf.grad, g);
        } else if (owned && g.dtype === leaf.dtype && g.storage.refCount === 1 && g.offset === 0 && g.isContiguous
          && g.size * DTYPE_SIZE[g.dtype] === g.storage.nbytes) {
          // nobody else holds this fresh gradient buffer (it is released right after): adopt it, no copy
          leaf.grad = keep(g.detach());
        } else {
          const c = g.dtype === leaf.dtype ? ops.contiguousCopy(g) : ops.cast(g, leaf.dtype);
          leaf.grad = keep(c);
        }
      },
    });
  }

  /** Clears `.grad` (releasing it). */
  zeroGrad(): void { this.grad?.dispose(); this.grad = null; }

  assertAlive(): void { if (this._disposed) throw new Error('use of a disposed tensor'); }

  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- ops as methods -------------------------------------------------------------------------
  add(o: Tensor | number): Tensor { return ops.add(this, o); }
  sub(o: Tensor | number): Tensor { return ops.sub(this, o); }
  mul(o: Tensor | number): Tensor { return ops.mul(this, o); }
  div(o: Tensor | number): Tensor { return ops.div(this, o); }
  pow(o: Tensor | number): Tensor { return ops.pow(this, o); }
  neg(): Tensor { return ops.neg(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  abs(): Tensor { return ops.abs(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  tanh(): Tensor { return ops.tanh(this); }
  relu(): Tensor { return ops.relu(this); }
  silu(): Tensor { return ops.silu(this); }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return ops.gelu(this, approximate); }
  square(): Tensor { return ops.square(this); }
  matmul(o: Tensor): Tensor { return ops.matmul(this, o); }
  sum(axes?: number | number[], keepdim = false): Tensor { return ops.sum(this, axes, keepdim); }
  mean(axes?: number | number[], keepdim = false): Tensor { return ops.mean(this, axes, keepdim); }
  max(axes?: number | number[], keepdim = false): Tensor { return ops.max(this, axes, keepdim); }
  min(axes?: number | number[], keepdim = false): Tensor { return ops.min(this, axes, keepdim); }
  argmax(axis: number, keepdim = false): Tensor { return ops.argmax(this, axis, keepdim); }
  logsumexp(axis: number, keepdim = false): Tensor { return ops.logsumexp(this, axis, keepdim); }
  softmax(axis = -1): Tensor { return ops.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return ops.logSoftmax(this, axis); }
  reshape(shape: Shape): Tensor { return ops.reshape(this, shape); }
  view(shape: Shape): Tensor { return ops.view(this, shape); }
  flatten(): Tensor { return ops.reshape(this, [this.size]); }
  transpose(a = -2, b = -1): Tensor { return ops.transpose(this, a, b); }
  permute(axes: number[]): Tensor { return ops.permute(this, axes); }
  expand(shape: Shape): Tensor { return ops.expand(this, shape); }
  squeeze(axis?: number): Tensor { return ops.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return ops.unsqueeze(this, axis); }
  slice(axis: number, start: number, end?: number, step = 1): Tensor { return ops.slice(this, axis, start, end, step); }
  contiguous(): Tensor { return ops.contiguous(this); }
  cast(dtype: DType): Tensor { return ops.cast(this, dtype); }
  to(device: Device): Tensor { return ops.toDevice(this, device); }
  clone(): Tensor { return ops.contiguousCopy(this); }
}

function isHostArrayOf(data: unknown, dtype: DType): boolean {
  switch (dtype) {
    case 'float32': return data instanceof Float32Array;
    case 'bfloat16': case 'float16': return data instanceof Uint16Array;
    case 'int32': return data instanceof Int32Array;
    case 'int64': return data instanceof BigInt64Array;
    case 'bool': return data instanceof Uint8Array;
    case 'int8': return data instanceof Int8Array;
  }
}

// Int8Array.set would wrap 200 to -56 without a word; an out-of-range value is a caller bug here.
function fillInt8(host: Int8Array, data: ArrayLike<number>): void {
  for (let i = 0; i < host.length; i++) {
    const v = Math.trunc(Number(data[i]));
    if (!(v >= -128 && v <= 127)) throw new RangeError(`fromArray: ${data[i]} at index ${i} does not fit int8 [-128, 127]`);
    host[i] = v;
  }
}

setTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);
