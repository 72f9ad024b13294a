// Unary and binary elementwise ops: forward vs float64, gradients vs finite differences,
// across layouts and broadcasting edge cases.
import * as T from '@stellar/tensor';
import { checkOp, type Layout } from './util/check-op';
import { Ref } from './util/ref';

const erf = (x: number): number => {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-5; use a series / continued fraction in float64
  const t = Math.abs(x);
  if (t < 3) {
    let sum = t, term = t;
    for (let n = 1; n < 200; n++) { term *= -t * t / n; sum += term / (2 * n + 1); if (Math.abs(term) < 1e-17) break; }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  return Math.sign(x) * (1 - Math.exp(-t * t) / (t * Math.sqrt(Math.PI)));
};
const sig = (x: number) => 1 / (1 + Math.exp(-x));

const unaryCases: [string, (t: T.Tensor) => T.Tensor, (v: number) => number, [number, number]?][] = [
  ['neg', T.neg, (v) => -v],
  ['exp', T.exp, Math.exp],
  ['log', T.log, Math.log, [0.1, 3]],
  ['sqrt', T.sqrt, Math.sqrt, [0.1, 3]],
  ['rsqrt', T.rsqrt, (v) => 1 / Math.sqrt(v), [0.2, 3]],
  ['abs', T.abs, Math.abs],
  ['sigmoid', T.sigmoid, sig, [-4, 4]],
  ['tanh', T.tanh, Math.tanh, [-3, 3]],
  ['relu', T.relu, (v) => Math.max(v, 0)],
  ['silu', T.silu, (v) => v * sig(v), [-4, 4]],
  ['gelu', T.gelu, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)), [-3, 3]],
  ['gelu_tanh', (t) => T.gelu(t, 'tanh'), (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))), [-3, 3]],
  ['reciprocal', T.reciprocal, (v) => 1 / v, [0.5, 2]],
  ['square', T.square, (v) => v * v],
  ['sin', T.sin, Math.sin],
  ['cos', T.cos, Math.cos],
  ['powScalar', (t) => T.powScalar(t, 2.5), (v) => v ** 2.5, [0.2, 2]],
  ['affine', (t) => T.affine(t, -1.5, 0.25), (v) => -1.5 * v + 0.25],
];

describe('unary ops', () => {
  for (const [name, ours, f, range] of unaryCases) {
    for (const layout of ['contiguous', 'transposed', 'strided', 'broadcast'] as Layout[]) {
      test(`${name} (${layout})`, () => {
        checkOp({
          inputs: [{ shape: [3, 5], range: range ?? [-2, 2], layout }],
          ours,
          ref: (x) => x.map(f),
          // relu/abs have kinks at 0; random data stays away from them with overwhelming probability
        });
      });
    }
  }
});

const binaryCases: [string, (a: T.Tensor, b: T.Tensor) => T.Tensor, (a: number, b: number) => number, [number, number]?][] = [
  ['add', T.add, (a, b) => a + b],
  ['sub', T.sub, (a, b) => a - b],
  ['mul', T.mul, (a, b) => a * b],
  ['div', T.div, (a, b) => a / b, [0.5, 2]],
  ['pow', T.pow, (a, b) => a ** b, [0.5, 2]],
  ['maximum', T.maximum, Math.max],
  ['minimum', T.minimum, Math.min],
];

const shapePairs: [number[], number[]][] = [
  [[4, 3], [4, 3]],
  [[4, 3], [3]],
  [[4, 1], [1, 3]],
  [[2, 1, 3], [4, 1]],
  [[3], [2, 4, 3]],
  [[], [2, 3]],
  [[2, 3], []],
];

describe('binary ops with broadcasting', () => {
  for (const [name, ours, f, range] of binaryCases) {
    for (const [sa, sb] of shapePairs) {
      test(`${name} [${sa}] x [${sb}]`, () => {
        checkOp({ inputs: [{ shape: sa, range }, { shape: sb, range }], ours, ref: (a, b) => a.zip(b, f) });
      });
    }
    test(`${name} non-contiguous operands`, () => {
      checkOp({ inputs: [{ shape: [3, 4], range, layout: 'transposed' }, { shape: [3, 4], range, layout: 'strided' }], ours, ref: (a, b) => a.zip(b, f) });
    });
  }
});

describe('scalar arithmetic', () => {
  test('t + 2, t - 1, t * 3, t / 4, t ** 2', () => {
    checkOp({
      inputs: [{ shape: [2, 3] }],
      ours: (x) => [T.add(x, 2), T.sub(x, 1), T.mul(x, 3), T.div(x, 4), T.pow(x, 2)],
      ref: (x) => [x.map((v) => v + 2), x.map((v) => v - 1), x.map((v) => v * 3), x.map((v) => v / 4), x.map((v) => v * v)],
    });
  });
});

describe('comparisons and where', () => {
  test('compare ops produce bool with broadcasting', () => {
    const a = T.tensor([[1, 2, 3], [4, 5, 6]]);
    const b = T.tensor([3]);
    expect(Array.from(T.lt(a, b).toFloat64())).toEqual([1, 1, 0, 0, 0, 0]);
    expect(Array.from(T.le(a, b).toFloat64())).toEqual([1, 1, 1, 0, 0, 0]);
    expect(Array.from(T.eq(a, 3).toFloat64())).toEqual([0, 0, 1, 0, 0, 0]);
    expect(Array.from(T.ne(a, 3).toFloat64())).toEqual([1, 1, 0, 1, 1, 1]);
    expect(Array.from(T.gt(a, b).toFloat64())).toEqual([0, 0, 0, 1, 1, 1]);
    expect(Array.from(T.ge(a, b).toFloat64())).toEqual([0, 0, 1, 1, 1, 1]);
    expect(T.lt(a, b).dtype).toBe('bool');
  });
  test('where forward and gradient', () => {
    const maskVals = [1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0];
    checkOp({
      inputs: [{ shape: [3, 4] }, { shape: [4] }],
      ours: (a, b) => T.where(T.tensor(Uint8Array.from(maskVals), { shape: [3, 4], dtype: 'bool' }), a, b),
      ref: (a, b) => Ref.fromFn([3, 4], ([i, j]) => (maskVals[i * 4 + j] ? a.at(i, j) : b.at(j))),
    });
  });
});
