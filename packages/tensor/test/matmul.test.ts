// matmul: batching, broadcasting, transposed views, bf16 inputs; gradients vs finite differences.
import * as T from '@stellar/tensor';
import { checkOp, type Layout, toRef, expectClose } from './util/check-op';
import { Ref, rng, randRef } from './util/ref';

const cases: [number[], number[]][] = [
  [[3, 4], [4, 5]],
  [[2, 3, 4], [4, 5]],          // folded into one GEMM
  [[2, 3, 4], [2, 4, 5]],
  [[2, 1, 3, 4], [3, 4, 2]],    // batch broadcasting both ways
  [[3, 4], [2, 4, 5]],
  [[1, 4], [4, 1]],
  [[5, 1], [1, 3]],             // K = 1
];

describe('matmul', () => {
  for (const [sa, sb] of cases) {
    for (const [la, lb] of [['contiguous', 'contiguous'], ['transposed', 'contiguous'], ['contiguous', 'transposed'], ['transposed', 'transposed'], ['strided', 'strided']] as [Layout, Layout][]) {
      test(`[${sa}] @ [${sb}] (${la}, ${lb})`, () => {
        checkOp({ inputs: [{ shape: sa, layout: la }, { shape: sb, layout: lb }], ours: T.matmul, ref: (a, b) => a.matmul(b) });
      });
    }
  }

  test('broadcast batch operand (expanded view)', () => {
    checkOp({ inputs: [{ shape: [3, 4, 5], layout: 'broadcast' }, { shape: [5, 2] }], ours: T.matmul, ref: (a, b) => a.matmul(b) });
  });

  test('K = 0 gives zeros', () => {
    const c = T.matmul(T.zeros([2, 0]), T.zeros([0, 3]));
    expect(Array.from(c.toFloat64())).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('shape errors name both shapes', () => {
    expect(() => T.matmul(T.zeros([2, 3]), T.zeros([4, 5]))).toThrow(/\[2, 3\] @ \[4, 5\]/);
    expect(() => T.matmul(T.zeros([2, 3]), T.zeros([3, 2], { dtype: 'int32' }))).toThrow(/float32 or both bfloat16/);
  });

  test('bf16 x bf16 accumulates in fp32 and matches the float64 product of the rounded inputs', () => {
    const r = rng(7);
    const a = randRef([2, 33, 70], r), b = randRef([70, 19], r);
    const ta = T.tensor(Float32Array.from(a.data), { shape: a.shape }).cast('bfloat16');
    const tb = T.tensor(Float32Array.from(b.data), { shape: b.shape }).cast('bfloat16');
    const c = T.matmul(ta, tb);
    expect(c.dtype).toBe('float32');
    const want = toRef(ta.cast('float32')).matmul(toRef(tb.cast('float32')));
    expectClose(toRef(c), want, 1e-4, 1e-4, 'bf16 matmul');
  });

  test('bf16 matmul gradients flow back in bf16', () => {
    const a = T.randn([4, 8]).cast('bfloat16').requiresGrad_();
    const b = T.randn([8, 3]).cast('bfloat16').requiresGrad_();
    T.sum(T.matmul(a, b)).backward();
    expect(a.grad!.dtype).toBe('bfloat16');
    expect(b.grad!.shape).toEqual([8, 3]);
    // d sum(AB)/dA = 1 @ B^T: each row of grad equals the row sums of B
    const bs = toRef(b.cast('float32')).sum([1]);
    const ga = toRef(a.grad!.cast('float32'));
    for (let i = 0; i < 4; i++) for (let k = 0; k < 8; k++) expect(Math.abs(ga.at(i, k) - bs.at(k))).toBeLessThan(0.05);
  });

  test('linear layer shape: (B, T, C) @ (C, N) gradient for the shared weight', () => {
    checkOp({ inputs: [{ shape: [2, 3, 4] }, { shape: [4, 6], layout: 'transposed' }], ours: T.matmul, ref: (a, b) => a.matmul(b) });
  });
});

test('Ref sanity', () => { expect(Ref.zeros([2]).size).toBe(2); });
