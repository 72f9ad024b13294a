// Reductions over any axes: forward vs float64, gradients vs finite differences, layouts.
import * as T from '@stellar/tensor';
import { checkOp, type Layout } from './util/check-op';
import { Ref } from './util/ref';

const axesCases: (number[] | undefined)[] = [undefined, [0], [1], [-1], [0, 2], [1, 2]];
const layouts: Layout[] = ['contiguous', 'transposed', 'strided'];

function refReduce(x: Ref, axes: number[] | undefined, kind: 'sum' | 'mean' | 'max' | 'min' | 'logsumexp', keepdim: boolean): Ref {
  const ax = axes ?? x.shape.map((_, i) => i);
  const norm = ax.map((a) => (a < 0 ? a + x.ndim : a));
  const count = norm.reduce((p, a) => p * x.shape[a], 1);
  if (kind === 'sum') return x.sum(norm, keepdim);
  if (kind === 'mean') return x.sum(norm, keepdim).map((v) => v / count);
  if (kind === 'max') return x.reduce(norm, -Infinity, Math.max, keepdim);
  if (kind === 'min') return x.reduce(norm, Infinity, Math.min, keepdim);
  const m = x.reduce(norm, -Infinity, Math.max, true);
  const e = x.zip(m, (v, mm) => Math.exp(v - mm)).sum(norm, true);
  const r = e.zip(m, (s, mm) => mm + Math.log(s));
  return keepdim ? r : new Ref(r.data, x.shape.filter((_, i) => !norm.includes(i)));
}

describe('reductions', () => {
  for (const kind of ['sum', 'mean', 'max', 'min', 'logsumexp'] as const) {
    for (const axes of axesCases) {
      for (const layout of layouts) {
        for (const keepdim of [false, true]) {
          if (kind === 'logsumexp' && axes === undefined) continue;
          test(`${kind} axes=${JSON.stringify(axes)} ${layout} keepdim=${keepdim}`, () => {
            const fn = {
              sum: () => (x: T.Tensor) => T.sum(x, axes, keepdim),
              mean: () => (x: T.Tensor) => T.mean(x, axes, keepdim),
              max: () => (x: T.Tensor) => T.max(x, axes, keepdim),
              min: () => (x: T.Tensor) => T.min(x, axes, keepdim),
              logsumexp: () => (x: T.Tensor) => T.logsumexp(x, axes!, keepdim),
            }[kind]();
            checkOp({ inputs: [{ shape: [3, 4, 5], layout, range: [-3, 3] }], ours: fn, ref: (x) => refReduce(x, axes, kind, keepdim) });
          });
        }
      }
    }
  }

  test('sum over a leading axis of a wide matrix (row-accumulation path)', () => {
    checkOp({ inputs: [{ shape: [9, 70] }], ours: (x) => T.sum(x, 0), ref: (x) => x.sum([0]) });
    checkOp({ inputs: [{ shape: [3, 4, 70] }], ours: (x) => T.mean(x, [0, 1]), ref: (x) => x.sum([0, 1]).map((v) => v / 12) });
  });

  test('large contiguous sum is accurate', () => {
    const n = 1 << 20;
    const x = T.full([n], 0.1);
    expect(T.sum(x).item()).toBeCloseTo(n * 0.1, 0);
  });

  test('argmax / argmin pick the first extreme and return int64', () => {
    const x = T.tensor([[1, 5, 5, 2], [7, 0, 7, -1]]);
    const am = T.argmax(x, 1);
    expect(am.dtype).toBe('int64');
    expect(am.toArray()).toEqual([1, 0]);
    expect(T.argmin(x, 1).toArray()).toEqual([0, 3]);
    expect(T.argmax(x, 0).toArray()).toEqual([1, 0, 1, 0]);
    expect(T.argmax(x, 1, true).shape).toEqual([2, 1]);
  });

  test('max gradient is shared among ties', () => {
    const x = T.tensor([3, 1, 3], { requiresGrad: true });
    T.max(x).backward();
    expect(Array.from(x.grad!.toFloat64())).toEqual([0.5, 0, 0.5]);
  });

  test('empty reductions: sum of nothing is 0, max of nothing throws', () => {
    const x = T.zeros([3, 0]);
    expect(Array.from(T.sum(x, 1).toFloat64())).toEqual([0, 0, 0]);
    expect(() => T.max(x, 1)).toThrow(/empty/);
  });

  test('bad axes are rejected with a clear message', () => {
    const x = T.zeros([2, 3]);
    expect(() => T.sum(x, 2)).toThrow(/axis 2 is out of range/);
    expect(() => T.sum(x, [0, 0])).toThrow(/repeated axis/);
  });
});
