// Pure shape arithmetic: sizes, contiguous strides, broadcasting and axis normalization.
export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

export function isContiguous(shape: Shape, strides: Shape): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= shape[i];
  }
  return true;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function broadcastShapes(...shapes: Shape[]): number[] {
  const nd = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(nd).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = nd - s.length + i;
      const d = s[i];
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) { out[o] = d; continue; }
      throw new Error(`shapes [${shapes.map((x) => x.join(', ')).join('] and [')}] cannot be broadcast together`);
    }
  }
  return out;
}

/** Strides that read a tensor of (shape, strides) as if it had `target` shape (zeros on broadcast dims). */
export function broadcastStrides(shape: Shape, strides: Shape, target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const off = target.length - shape.length;
  if (off < 0) throw new Error(`cannot broadcast [${shape.join(', ')}] to [${target.join(', ')}]`);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === target[off + i]) out[off + i] = strides[i];
    else if (shape[i] === 1) out[off + i] = 0;
    else throw new Error(`cannot broadcast [${shape.join(', ')}] to [${target.join(', ')}]`);
  }
  return out;
}

export function normAxis(axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= Math.max(ndim, 1)) throw new Error(`axis ${axis} is out of range for a tensor of rank ${ndim}`);
  return a;
}

export function normAxes(axes: number | readonly number[] | undefined, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = (typeof axes === 'number' ? [axes] : [...axes]).map((a) => normAxis(a, ndim));
  if (new Set(list).size !== list.length) throw new Error(`repeated axis in [${list.join(', ')}]`);
  return list.sort((a, b) => a - b);
}

/** Resolves one -1 entry of a reshape target. */
export function inferShape(target: Shape, total: number): number[] {
  const out = [...target];
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(out.filter((_, i) => i !== neg));
    if (rest === 0 || total % rest !== 0) throw new Error(`cannot reshape ${total} elements into [${target.join(', ')}]`);
    out[neg] = total / rest;
  }
  if (out.some((d) => d < 0 || !Number.isInteger(d))) throw new Error(`invalid shape [${target.join(', ')}]`);
  if (numel(out) !== total) throw new Error(`cannot reshape ${total} elements into [${target.join(', ')}]`);
  return out;
}

/** Strides for viewing (shape, strides) as `target` without copying, or null when a copy is required
 * (the chunk-matching rule PyTorch's view uses). */
export function viewStrides(shape: Shape, strides: Shape, target: Shape): number[] | null {
  if (numel(shape) === 0) return contiguousStrides(target);
  const oldShape = shape.length ? shape : [1];
  const oldStrides = strides.length ? strides : [1];
  const out = new Array<number>(target.length);
  let viewD = target.length - 1;
  let chunkBase = oldStrides[oldStrides.length - 1];
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d];
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || target[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= target[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) { chunkBase = oldStrides[d - 1]; tensorNumel = 1; viewNumel = 1; }
    }
  }
  if (viewD !== -1) return null;
  return out;
}
