// The int8 dtype: host round trips, casts to and from every dtype on contiguous and strided views
// (checked against a JS reference of the documented semantics), fill, views, and refusal by arithmetic.
import * as T from '@stellar/tensor';
import type { DType } from '@stellar/tensor';

const ALL: DType[] = ['float32', 'bfloat16', 'float16', 'int32', 'int64', 'bool', 'int8'];

/** float -> int8 as documented: truncate toward zero, saturate outside [-128, 127], NaN -> 0. */
const toI8 = (v: number): number => (Number.isNaN(v) ? 0 : Math.max(-128, Math.min(127, Math.trunc(v))) + 0);   // + 0: no -0

/** What a value of int8 becomes in `to` (int8 values are exact in every dtype; bool is v != 0). */
const fromI8 = (v: number, to: DType): number => (to === 'bool' ? Number(v !== 0) : v);

/** The values of an int8 tensor as numbers. */
const i8 = (t: T.Tensor): number[] => Array.from(t.data() as Int8Array);

// Every int8 value once, in a scrambled order so that a transposed read gives a different sequence.
const EVERY_I8 = Array.from({ length: 256 }, (_, i) => ((i * 37) % 256) - 128);

describe('int8 host data', () => {
  test('fromArray / data / toArray / item round trip, Int8Array and plain numbers', () => {
    T.tidy(() => {
      const src = Int8Array.from(EVERY_I8);
      const t = T.Tensor.fromArray(src, [16, 16], { dtype: 'int8' });
      expect(t.dtype).toBe('int8');
      expect(T.DTYPE_SIZE.int8).toBe(1);
      expect([T.isInt('int8'), T.isFloat('int8'), T.isInt('bool'), T.isInt('int64')]).toEqual([true, false, false, true]);
      const d = t.data();
      expect(d).toBeInstanceOf(Int8Array);
      expect(Array.from(d as Int8Array)).toEqual(EVERY_I8);
      expect(Array.from(t.toFloat64())).toEqual(EVERY_I8);
      expect((t.toArray() as number[][])[1]).toEqual(EVERY_I8.slice(16, 32));
      // plain numbers truncate toward zero like the int8 cast
      const p = T.tensor([[-128, 127], [-3.9, 2.5]], { dtype: 'int8' });
      expect(i8(p)).toEqual([-128, 127, -3, 2]);
      expect(T.tensor(-7, { dtype: 'int8' }).item()).toBe(-7);
      expect(T.Tensor.fromArray([], [0, 4], { dtype: 'int8' }).data()).toEqual(new Int8Array(0));
    });
  });

  test('plain numbers outside [-128, 127] are refused instead of wrapping', () => {
    expect(() => T.tensor([1, 200], { dtype: 'int8' })).toThrow(/200 at index 1 does not fit int8/);
    expect(() => T.tensor([-129], { dtype: 'int8' })).toThrow(RangeError);
    expect(() => T.tensor([NaN], { dtype: 'int8' })).toThrow(/does not fit int8/);
  });
});

describe('casts', () => {
  test('int8 -> every dtype, contiguous, transposed and stepped views', () => {
    T.tidy(() => {
      const base = T.tensor(Int8Array.from(EVERY_I8), { dtype: 'int8', shape: [16, 16] });
      const views: [string, T.Tensor, number[]][] = [
        ['contiguous', base, EVERY_I8],
        ['transposed', T.transpose(base), Array.from({ length: 256 }, (_, i) => EVERY_I8[(i % 16) * 16 + Math.floor(i / 16)])],
        ['stepped', T.slice(T.slice(base, 0, 1, 16, 3), 1, 2, 16, 5),
          [1, 4, 7, 10, 13].flatMap((r) => [2, 7, 12].map((c) => EVERY_I8[r * 16 + c]))],
      ];
      for (const [label, v, want] of views) {
        expect([label, v.isContiguous]).toEqual([label, label === 'contiguous']);
        for (const to of ALL) {
          const c = T.cast(v, to);
          expect(c.dtype).toBe(to);
          expect([label, to, Array.from(c.toFloat64())]).toEqual([label, to, want.map((x) => fromI8(x, to))]);
        }
      }
    });
  });

  test('every dtype -> int8: truncation toward zero, saturation, NaN, strided source and destination', () => {
    T.tidy(() => {
      const floats = [0, -0, 0.9, -0.9, 2.5, -2.5, 126.99, -127.5, 127, -128, 128, -129, 1e9, -1e9, Infinity, -Infinity, NaN, 3];
      const ints = [0, 1, -1, 127, -128, 128, -129, 255, 256, -300, 2 ** 31 - 1, -(2 ** 31)];
      const sources: [DType, number[]][] = [
        ['float32', floats], ['bfloat16', floats], ['float16', floats], ['int32', ints], ['int64', ints.concat([2 ** 40, -(2 ** 40)])],
        ['bool', [1, 0, 1, 1, 0, 0]], ['int8', [-128, 127, 0, -1, 5, 6]],
      ];
      for (const [from, vals] of sources) {
        const n = vals.length;
        // the source as stored (bf16/f16 round the floats); its decoded values feed the reference
        const src = from === 'int8' ? T.tensor(Int8Array.from(vals), { dtype: 'int8' })
          : from === 'float32' || from === 'int32' || from === 'int64' || from === 'bool' ? T.tensor(vals, { dtype: from })
            : T.cast(T.tensor(vals), from);
        const stored = Array.from(src.toFloat64());
        const want = stored.map(toI8);
        expect([from, i8(T.cast(src, 'int8'))]).toEqual([from, want]);

        // strided source: every other element of a (n, 2) buffer
        const wide = T.concat([T.unsqueeze(src, 1), T.unsqueeze(src, 1)], 1);   // (n, 2)
        const strided = T.squeeze(T.slice(wide, 1, 0, 1), 1);                     // (n), stride 2
        expect(strided.isContiguous).toBe(false);
        expect([from, 'strided', i8(T.cast(strided, 'int8'))]).toEqual([from, 'strided', want]);

        // strided destination: copyInto the odd columns of an int8 (n, 2) buffer, even ones untouched
        const dst = T.full([n, 2], -5, { dtype: 'int8' });
        T.copyInto(T.squeeze(T.slice(dst, 1, 1, 2), 1), src);
        expect([from, 'dst', i8(dst)]).toEqual([from, 'dst', want.flatMap((w) => [-5, w])]);
      }
    });
  });
});

describe('int8 storage ops', () => {
  test('full / zeros / fill_ store the converted value; views and contiguous keep the bytes', () => {
    T.tidy(() => {
      expect(i8(T.full([2, 2], -2.7, { dtype: 'int8' }))).toEqual([-2, -2, -2, -2]);
      expect(i8(T.full([3], 1000, { dtype: 'int8' }))).toEqual([127, 127, 127]);
      expect(i8(T.zeros([2], { dtype: 'int8' }))).toEqual([0, 0]);
      const t = T.tensor(Int8Array.from([-128, -1, 0, 1, 2, 127]), { dtype: 'int8', shape: [2, 3] });
      const tt = T.contiguous(T.transpose(t));
      expect(tt.dtype).toBe('int8');
      expect(i8(tt)).toEqual([-128, 1, -1, 2, 0, 127]);
      expect(i8(T.concat([t, t], 0))).toEqual([-128, -1, 0, 1, 2, 127, -128, -1, 0, 1, 2, 127]);
      T.fill_(T.slice(t, 1, 1, 2), -100);
      expect(i8(t)).toEqual([-128, -100, 0, 1, -100, 127]);
    });
  });

  test('arithmetic refuses int8 with an error naming the dtype; int8 cannot require grad', () => {
    T.tidy(() => {
      const q = T.tensor([1, 2], { dtype: 'int8' });
      expect(() => T.add(q, q)).toThrow(/int8/);
      expect(() => T.exp(q)).toThrow(/int8/);
      expect(() => T.sum(q)).toThrow(/int8/);
      expect(() => T.matmul(T.tensor([[1, 2]], { dtype: 'int8' }), T.tensor([[1], [2]], { dtype: 'int8' }))).toThrow();
      expect(() => { q.requiresGrad = true; }).toThrow(/int8/);
      // the cast back to float is how arithmetic is done
      expect(Array.from(T.add(T.cast(q, 'float32'), T.cast(q, 'float32')).toFloat64())).toEqual([2, 4]);
    });
  });
});
