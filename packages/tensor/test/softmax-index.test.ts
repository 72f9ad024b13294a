// Softmax / log-softmax along any axis, index_select / embedding / gather, with gradients.
import * as T from '@stellar/tensor';
import { checkOp } from './util/check-op';
import { Ref } from './util/ref';

function refSoftmax(x: Ref, axis: number, log: boolean): Ref {
  const a = axis < 0 ? axis + x.ndim : axis;
  const m = x.reduce([a], -Infinity, Math.max, true);
  const e = x.zip(m, (v, mm) => Math.exp(v - mm));
  const s = e.sum([a], true);
  return log ? x.zip(m, (v, mm) => v - mm).zip(s, (v, ss) => v - Math.log(ss)) : e.zip(s, (v, ss) => v / ss);
}

describe('softmax', () => {
  for (const log of [false, true]) {
    for (const axis of [-1, 0, 1]) {
      for (const layout of ['contiguous', 'transposed'] as const) {
        test(`${log ? 'logSoftmax' : 'softmax'} axis=${axis} ${layout}`, () => {
          checkOp({
            inputs: [{ shape: [3, 4, 5], range: [-4, 4], layout }],
            ours: (x) => (log ? T.logSoftmax(x, axis) : T.softmax(x, axis)),
            ref: (x) => refSoftmax(x, axis, log),
          });
        });
      }
    }
  }
  test('large logits do not overflow; -inf entries get probability 0', () => {
    const x = T.tensor([[1000, 1001, -Infinity], [-Infinity, -Infinity, -Infinity]]);
    const p = T.softmax(x, -1).toArray() as number[][];
    expect(p[0][0]).toBeCloseTo(1 / (1 + Math.E), 6);
    expect(p[0][2]).toBe(0);
    expect(p[1]).toEqual([0, 0, 0]);  // fully masked rows give zeros, not NaN
  });
});

describe('indexing', () => {
  const ids = [2, 0, 2, 3, -1];
  test('indexSelect along axis 0 with repeated and negative ids (scatter-add backward)', () => {
    checkOp({
      inputs: [{ shape: [4, 3] }],
      ours: (x) => T.indexSelect(x, 0, T.tensor(Int32Array.from(ids), { dtype: 'int32' })),
      ref: (x) => Ref.fromFn([5, 3], ([i, j]) => x.at((ids[i] + 4) % 4, j)),
    });
  });
  test('indexSelect along a middle axis with int64 ids', () => {
    checkOp({
      inputs: [{ shape: [2, 4, 3], layout: 'transposed' }],
      ours: (x) => T.indexSelect(x, 1, T.tensor(BigInt64Array.from([3n, 3n, 1n]), { dtype: 'int64' })),
      ref: (x) => Ref.fromFn([2, 3, 3], ([a, i, j]) => x.at(a, [3, 3, 1][i], j)),
    });
  });
  test('embedding of a (B, T) id matrix', () => {
    const tok = [[1, 0, 1], [2, 2, 0]];
    checkOp({
      inputs: [{ shape: [3, 4] }],
      ours: (w) => T.embedding(w, T.tensor(tok, { dtype: 'int32' })),
      ref: (w) => Ref.fromFn([2, 3, 4], ([b, t, c]) => w.at(tok[b][t], c)),
    });
  });
  test('out-of-range ids are refused with the offending id', () => {
    const w = T.zeros([4, 2]);
    expect(() => T.indexSelect(w, 0, T.tensor([4], { dtype: 'int32' }))).toThrow(/index 4 is out of range for a dimension of size 4/);
    expect(() => T.indexSelect(w, 0, T.tensor([1.5]))).toThrow(/int32 or int64/);
  });
  test('gather along the last and a leading axis', () => {
    const idx = [[0, 2], [1, 1], [3, 0]];
    checkOp({
      inputs: [{ shape: [3, 4] }],
      ours: (x) => T.gather(x, 1, T.tensor(idx, { dtype: 'int64' })),
      ref: (x) => Ref.fromFn([3, 2], ([i, k]) => x.at(i, idx[i][k])),
    });
    const idx0 = [[2, 0, 1, 1]];
    checkOp({
      inputs: [{ shape: [3, 4] }],
      ours: (x) => T.gather(x, 0, T.tensor(idx0, { dtype: 'int32' })),
      ref: (x) => Ref.fromFn([1, 4], ([, j]) => x.at(idx0[0][j], j)),
    });
  });
});
