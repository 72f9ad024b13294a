// The op registry: every op is declared once (name, output rule, what backward saves, gradient);
// each backend registers a kernel for the op name. runOp allocates outputs, runs the kernel for
// the inputs' device and records an autograd node when a gradient is needed.
import type { DType } from './dtype';
import type { Device } from './device';
import { Tensor } from './tensor';
import { Node, isGradEnabled } from './autograd';
import { hasKernel } from '@stellar/native';

export interface OutSpec { shape: number[]; dtype: DType }

export interface GradCtx<A> {
  attrs: A;
  /** Saved tensors, indexed like inputs then outputs (see OpDef.save); null when not saved. */
  saved: (Tensor | null)[];
  inputMeta: { shape: number[]; dtype: DType }[];
  /** Which inputs need a gradient (others may return null). */
  needsGrad: boolean[];
  /** Extra values the forward computed for backward (e.g. per-row statistics). */
  extra?: Tensor[];
}

export interface OpDef<A = Record<string, never>> {
  readonly name: string;
  /** Output shapes and dtypes (the shape rule); validates inputs and attrs. */
  outputs(inputs: Tensor[], attrs: A): OutSpec[];
  /** Which inputs / outputs backward reads. Unsaved ones are not kept alive by the graph. */
  save?: { inputs?: number[]; outputs?: number[] };
  /** Gradients for each input from the gradients of each output (null = no gradient flows). */
  grad?(ctx: GradCtx<A>, gradOutputs: (Tensor | null)[]): (Tensor | null)[];
  /** Device of the outputs when it differs from the inputs' (device transfers). */
  outputDevice?(inputs: Tensor[], attrs: A): Device;
  /** Views produce outputs sharing the input's storage instead of running a kernel. */
  view?(input: Tensor, attrs: A): { shape: number[]; strides: number[]; offset: number };
}

/**
 * A kernel writes `outputs` from `inputs`. It may return extra tensors that the op's grad will need
 * (fused kernels saving per-row statistics, for instance).
 */
export type Kernel<A> = (inputs: Tensor[], outputs: Tensor[], attrs: A) => Tensor[] | void;

const kernels = new Map<string, Map<Device, Kernel<any>>>();
const ops = new Map<string, OpDef<any>>();

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  if (ops.has(def.name)) throw new Error(`op "${def.name}" is declared twice`);
  ops.set(def.name, def);
  return def;
}

export function registerKernel<A>(opName: string, device: Device, k: Kernel<A>): void {
  let m = kernels.get(opName);
  if (!m) kernels.set(opName, (m = new Map()));
  m.set(device, k);
}

/**
 * Registers the same TypeScript kernel body for every device whose native kernel exists
 * (`cpu/<native>` always, `cuda/<native>` when compiled with nvcc). Kernel bodies receive the device.
 */
export function registerNative<A>(opName: string, nativeName: string, body: (device: Device, inputs: Tensor[], outputs: Tensor[], attrs: A) => Tensor[] | void): void {
  for (const dev of ['cpu', 'cuda'] as Device[]) {
    if (hasKernel(`${dev}/${nativeName}`)) registerKernel<A>(opName, dev, (i, o, a) => body(dev, i, o, a));
  }
}

export function opNames(): string[] { return [...ops.keys()].sort(); }
export function getOp(name: string): OpDef<any> | undefined { return ops.get(name); }
/** Devices with a kernel for the op (views need none). */
export function kernelDevices(opName: string): Device[] { return [...(kernels.get(opName)?.keys() ?? [])]; }

export function runOp<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Tensor[] {
  // One pass, no arrays: this runs for every op call, and most calls record nothing.
  let anyGrad = false;
  for (const t of inputs) {
    if (t.disposed) throw new Error(`op "${op.name}": an input tensor was already disposed`);
    if (t.requiresGrad) anyGrad = true;
  }
  const record = anyGrad && !!op.grad && isGradEnabled();
  let outs: Tensor[];
  let extra: Tensor[] | void = undefined;
  if (op.view) {
    const v = op.view(inputs[0], attrs);
    outs = [Tensor._fromStorage(inputs[0].storage.retain(), v.shape, v.strides, v.offset, inputs[0].dtype)];
  } else {
    const specs = op.outputs(inputs, attrs);
    const device = inputs.length ? inputs[0].device : 'cpu';
    for (const t of inputs) {
      if (t.device !== device) throw new Error(`op "${op.name}": inputs are on different devices (${device} and ${t.device})`);
    }
    const k = kernels.get(op.name)?.get(device);
    if (!k) throw new Error(`op "${op.name}" has no kernel for device "${device}"`);
    const outDevice = op.outputDevice ? op.outputDevice(inputs, attrs) : device;
    outs = specs.map((s) => Tensor.empty(s.shape, { dtype: s.dtype, device: outDevice }));
    try {
      extra = k(inputs, outs, attrs);
    } catch (e) {
      for (const o of outs) o.dispose();
      throw e;
    }
  }
  if (record) {
    const needsGrad = inputs.map((t) => t.requiresGrad);
    const saved: (Tensor | null)[] = [];
    const si = new Set(op.save?.inputs ?? []);
    const so = new Set(op.save?.outputs ?? []);
    inputs.forEach((t, i) => saved.push(si.has(i) ? t.detachedRef() : null));
    outs.forEach((t, i) => saved.push(so.has(i) ? t.detachedRef() : null));
    const ctx: GradCtx<A> = {
      attrs,
      saved,
      inputMeta: inputs.map((t) => ({ shape: t.shape, dtype: t.dtype })),
      needsGrad,
      extra: extra ? extra.map((t) => t._untrack()) : undefined,
    };
    const node = new Node(op, inputs.map((t) => (t.requiresGrad ? t : null)), ctx, outs.length);
    if (extra) for (const t of extra) ctx.saved.push(t);  // released with the node
    outs.forEach((o, i) => { o._setGradFn(node, i); });
  } else if (extra) {
    for (const t of extra) t.dispose();
  }
  return outs;
}

/** Convenience for single-output ops. */
export function run1<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Tensor {
  return runOp(op, inputs, attrs)[0];
}
