// indexAdd (out-of-place torch.index_add with gradients to both the base and the source rows) and
// topk (descending values with gradients through gather, int32 indices, ties to the lower index).
import * as T from '@stellar/tensor';
import { checkOp } from './util/check-op';
import { Ref } from './util/ref';

describe('indexAdd', () => {
  const ids = [2, 0, 2, -1, 3];
  test('along axis 0 with repeated and negative ids', () => {
    checkOp({
      inputs: [{ shape: [4, 3] }, { shape: [5, 3], layout: 'transposed' }],
      ours: (x, src) => T.indexAdd(x, 0, T.tensor(Int32Array.from(ids), { dtype: 'int32' }), src),
      ref: (x, src) => Ref.fromFn([4, 3], ([i, j]) => x.at(i, j) + ids.reduce((s, d, m) => s + ((d + 4) % 4 === i ? src.at(m, j) : 0), 0)),
    });
  });
  test('along a middle axis with int64 ids and a strided base', () => {
    const mid = [1n, 1n, 0n];
    checkOp({
      inputs: [{ shape: [2, 3, 4], layout: 'strided' }, { shape: [2, 3, 4] }],
      ours: (x, src) => T.indexAdd(x, 1, T.tensor(BigInt64Array.from(mid), { dtype: 'int64' }), src),
      ref: (x, src) => Ref.fromFn([2, 3, 4], ([a, i, c]) => x.at(a, i, c) + mid.reduce((s, d, m) => s + (Number(d) === i ? src.at(a, m, c) : 0), 0)),
    });
  });
  test('the base is not modified and shapes are checked', () => {
    const x = T.zeros([3, 2]);
    const y = T.indexAdd(x, 0, T.tensor([1, 1], { dtype: 'int32' }), T.ones([2, 2]));
    expect(y.toArray()).toEqual([[0, 0], [2, 2], [0, 0]]);
    expect(x.toArray()).toEqual([[0, 0], [0, 0], [0, 0]]);
    expect(() => T.indexAdd(x, 0, T.tensor([1], { dtype: 'int32' }), T.ones([2, 2]))).toThrow(/source \[2, 2\] must be \[1, 2\]/);
    expect(() => T.indexAdd(x, 0, T.tensor([3], { dtype: 'int32' }), T.ones([1, 2]))).toThrow(/out of range/);
  });
});

describe('topk', () => {
  test('values and indices along the last axis, descending, gradient through the picked entries', () => {
    const k = 2;
    const pick = (x: Ref, r: number): number[] => {
      const n = x.shape[1];
      return Array.from({ length: n }, (_, i) => i).sort((a, b) => x.at(r, b) - x.at(r, a) || a - b).slice(0, k);
    };
    checkOp({
      inputs: [{ shape: [5, 4], layout: 'transposed' }],
      ours: (x) => T.topk(x, k).values,
      ref: (x) => Ref.fromFn([5, k], ([r, j]) => x.at(r, pick(x, r)[j])),
    });
  });
  test('indices of a hand-made batch, ties to the lower index, leading dims kept', () => {
    const x = T.tensor([[[1, 3, 3, 0], [-1, -5, 2, 7]]]);
    const { values, indices } = T.topk(x, 3);
    expect(indices.dtype).toBe('int32');
    expect(indices.shape).toEqual([1, 2, 3]);
    expect(indices.toArray()).toEqual([[[1, 2, 0], [3, 2, 0]]]);
    expect(values.toArray()).toEqual([[[3, 3, 1], [7, 2, -1]]]);
    expect(() => T.topk(x, 5)).toThrow(/k must be an integer in \[1, 4\]/);
  });
});
