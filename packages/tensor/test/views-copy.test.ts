// View ops (reshape, permute, expand, slice, squeeze) and copying ops (contiguous, cast, concat,
// split): values, zero-copy behaviour, gradients.
import * as T from '@stellar/tensor';
import { checkOp } from './util/check-op';
import { Ref } from './util/ref';
import { viewStrides, contiguousStrides } from '../src/shape';

describe('views share storage', () => {
  test('transpose, slice, expand and reshape of contiguous data do not copy', () => {
    const x = T.arange(24).reshape([2, 3, 4]);
    for (const v of [x.transpose(0, 2), x.slice(1, 1, 3), x.slice(2, 0, 4, 2), T.expand(x.slice(0, 0, 1), [5, 3, 4]), x.reshape([6, 4]), x.unsqueeze(1), x.view([4, 6])]) {
      expect(v.storage).toBe(x.storage);
    }
    expect(x.transpose(0, 2).isContiguous).toBe(false);
    expect(x.slice(2, 0, 4, 2).toArray()).toEqual([[[0, 2], [4, 6], [8, 10]], [[12, 14], [16, 18], [20, 22]]]);
  });

  test('reshape of a non-viewable layout copies; view() refuses', () => {
    const x = T.arange(6).reshape([2, 3]).transpose();
    expect(() => x.view([6])).toThrow(/cannot be viewed/);
    const r = x.reshape([6]);
    expect(r.storage).not.toBe(x.storage);
    expect(Array.from(r.toFloat64())).toEqual([0, 3, 1, 4, 2, 5]);
  });

  test('viewStrides agrees with a brute-force check on random layouts', () => {
    // A view is valid iff every logical index maps to the same element as in the source.
    for (let trial = 0; trial < 200; trial++) {
      const shape = [2, 3, 2].map((d) => d + (trial % 3));
      const base = T.arange(shape.reduce((a, b) => a * b)).reshape(shape);
      const perm = [[0, 1, 2], [1, 0, 2], [0, 2, 1], [2, 1, 0]][trial % 4];
      const v = base.permute(perm);
      const n = v.size;
      const targets = [[n], [v.shape[0], -1], [-1, v.shape[2]], [v.shape[0] * v.shape[1], v.shape[2]], [1, ...v.shape, 1]];
      for (const t of targets) {
        const target = t.map((d) => (d === -1 ? n / t.filter((z) => z !== -1).reduce((a, b) => a * b, 1) : d));
        const st = viewStrides(v.shape, v.strides, target);
        const want = Array.from(v.contiguous().toFloat64());
        if (st) {
          const got = Array.from(T.view(v, target).toFloat64());
          expect(got).toEqual(want);
        } else {
          // must really be impossible: the contiguous strides on the permuted layout differ
          expect(v.isContiguous).toBe(false);
        }
      }
    }
    expect(contiguousStrides([2, 3])).toEqual([3, 1]);
  });
});

describe('view gradients', () => {
  test('permute / transpose', () => {
    checkOp({ inputs: [{ shape: [2, 3, 4] }], ours: (x) => x.permute([2, 0, 1]), ref: (x) => x.permute([2, 0, 1]) });
  });
  test('slice with step, negative indices', () => {
    checkOp({
      inputs: [{ shape: [4, 7] }],
      ours: (x) => x.slice(1, -6, -1, 2),
      ref: (x) => Ref.fromFn([4, 3], ([i, j]) => x.at(i, 1 + 2 * j)),
    });
  });
  test('expand sums gradients back', () => {
    checkOp({ inputs: [{ shape: [3, 1] }], ours: (x) => x.expand([2, 3, 4]), ref: (x) => Ref.fromFn([2, 3, 4], ([, i]) => x.at(i, 0)) });
  });
  test('reshape / squeeze / unsqueeze', () => {
    checkOp({ inputs: [{ shape: [2, 1, 6] }], ours: (x) => x.squeeze(1).reshape([3, 4]).unsqueeze(0), ref: (x) => x.reshape([1, 3, 4]) });
    checkOp({ inputs: [{ shape: [3, 4], layout: 'transposed' }], ours: (x) => x.reshape([12]), ref: (x) => x.reshape([12]) });
  });
});

describe('copies', () => {
  test('contiguous of a strided view', () => {
    checkOp({ inputs: [{ shape: [3, 5], layout: 'strided' }], ours: (x) => x.contiguous(), ref: (x) => x });
  });

  test('concat along each axis, with gradients', () => {
    for (const axis of [0, 1, -1]) {
      checkOp({
        inputs: [{ shape: [2, 3] }, { shape: axis === 0 ? [4, 3] : [2, 5] }, { shape: axis === 0 ? [1, 3] : [2, 1], layout: 'transposed' }],
        ours: (a, b, c) => T.concat([a, b, c], axis),
        ref: (a, b, c) => {
          const ax = axis < 0 ? axis + 2 : axis;
          const parts = [a, b, c];
          const shape = [...a.shape]; shape[ax] = parts.reduce((s, p) => s + p.shape[ax], 0);
          return Ref.fromFn(shape, (idx) => {
            let k = idx[ax];
            for (const p of parts) { if (k < p.shape[ax]) { const j = [...idx]; j[ax] = k; return p.at(...j); } k -= p.shape[ax]; }
            throw new Error('unreachable');
          });
        },
      });
    }
    expect(() => T.concat([T.zeros([2, 3]), T.zeros([2, 4])], 0)).toThrow(/do not match outside axis 0/);
  });

  test('split returns views that add up to the input', () => {
    const x = T.arange(10).reshape([5, 2]);
    const parts = T.split(x, [2, 3], 0);
    expect(parts.map((p) => p.shape)).toEqual([[2, 2], [3, 2]]);
    expect(parts[1].storage).toBe(x.storage);
    expect(T.split(x, 2, 0).map((p) => p.shape[0])).toEqual([2, 2, 1]);
    expect(() => T.split(x, [2, 2], 0)).toThrow(/do not add up/);
  });

  test('copyInto writes through a view', () => {
    const x = T.zeros([3, 4]);
    T.copyInto(x.slice(1, 1, 3), T.ones([3, 2]));
    expect(x.toArray()).toEqual([[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0]]);
  });
});

/** Independent float64 model of rounding to a float format: `mant` stored mantissa bits, smallest
 * normal exponent `emin`, values at or above `overflow` become infinite; ties to even. */
function roundFloat(v: number, mant: number, emin: number, overflow: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  const e = Math.max(Math.floor(Math.log2(a)), emin);
  const q = 2 ** (e - mant);
  const n = a / q;
  const fl = Math.floor(n);
  const r = n - fl > 0.5 || (n - fl === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  const out = r * q;
  if (out >= overflow) return Math.sign(v) * Infinity;
  return r === 0 ? (v < 0 ? -0 : 0) : Math.sign(v) * out;
}

describe('dtype casts', () => {
  test('f32 -> bf16 rounds to nearest even and back', () => {
    // 1 + 2^-8 is exactly halfway between two bf16 values (1 and 1 + 2^-7): ties go to even (1)
    const x = T.tensor([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, 3.0e38, 1e-40, Infinity, -Infinity]);
    const b = x.cast('bfloat16');
    expect(b.dtype).toBe('bfloat16');
    const back = Array.from(b.cast('float32').toFloat64());
    expect(back.slice(0, 4)).toEqual([1, 1, 1 + 2 ** -6, -2.5]);
    expect(back[4]).toBe(roundFloat(3.0e38, 7, -126, Infinity));
    expect(back[6]).toBe(Infinity);
    expect(back[7]).toBe(-Infinity);
    expect(Number.isNaN(T.tensor([NaN]).cast('bfloat16').cast('float32').item())).toBe(true);
  });

  test('f32 -> f16 handles normals, subnormals, overflow, rounding and signed zero', () => {
    const vals = [0, 1, -2, 0.1, 65504, 65519, 65520, 1e5, 6e-8, 2 ** -24, 2 ** -25, 2 ** -25 * 1.5, 1e-3, -0.0, -3e-8];
    const back = Array.from(T.tensor(vals).cast('float16').cast('float32').toFloat64());
    const want = vals.map((v) => roundFloat(Math.fround(v), 10, -14, 65520));
    back.forEach((b, i) => expect(Object.is(b, want[i]) || b === want[i]).toBe(true));
    expect(Object.is(back[13], -0)).toBe(true);
  });

  test('float -> int truncates toward zero; ints -> float exact; bool', () => {
    const x = T.tensor([1.7, -1.7, 3, 0]);
    expect(Array.from(x.cast('int32').data() as Int32Array)).toEqual([1, -1, 3, 0]);
    expect(Array.from(x.cast('int64').data() as BigInt64Array)).toEqual([1n, -1n, 3n, 0n]);
    expect(Array.from(x.cast('bool').data() as Uint8Array)).toEqual([1, 1, 1, 0]);
    const big = T.tensor(BigInt64Array.from([2n ** 40n, -5n]), { dtype: 'int64' });
    expect(Array.from(big.cast('float32').toFloat64())).toEqual([2 ** 40, -5]);
  });

  test('cast is differentiable between float types', () => {
    const x = T.tensor([1, 2, 3], { requiresGrad: true });
    T.sum(x.cast('bfloat16').cast('float32').mul(2)).backward();
    expect(Array.from(x.grad!.toFloat64())).toEqual([2, 2, 2]);
  });
});
