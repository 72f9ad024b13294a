// Seeded Philox streams: reproducibility, state save/restore, distribution moments, dropout,
// multinomial sampling.
import * as T from '@stellar/tensor';

const arr = (t: T.Tensor) => Array.from(t.toFloat64());

describe('random streams', () => {
  test('same seed gives the same values; the stream advances', () => {
    const g1 = new T.Generator(42), g2 = new T.Generator(42);
    const a = arr(T.randn([1000], { generator: g1 }));
    expect(arr(T.randn([1000], { generator: g2 }))).toEqual(a);
    expect(arr(T.randn([1000], { generator: g1 }))).not.toEqual(a);
    expect(arr(T.randn([10], { generator: new T.Generator(43) }))).not.toEqual(a.slice(0, 10));
  });

  test('values do not depend on the thread count', () => {
    const prev = T.numThreads();
    T.setNumThreads(1);
    const a = arr(T.randn([100000], { generator: new T.Generator(5) }));
    T.setNumThreads(2);
    const b = arr(T.randn([100000], { generator: new T.Generator(5) }));
    T.setNumThreads(prev);
    expect(b).toEqual(a);
  });

  test('state save / restore reproduces the next draws exactly', () => {
    const g = new T.Generator(7);
    T.rand([13], { generator: g });
    const state = JSON.parse(JSON.stringify(g.getState()));
    const next = arr(T.randn([50], { generator: g }));
    const h = new T.Generator(0).setState(state);
    expect(arr(T.randn([50], { generator: h }))).toEqual(next);
  });

  test('moments of normal and uniform draws', () => {
    const g = new T.Generator(1);
    const n = 200000;
    const x = T.randn([n], { generator: g, mean: 2, std: 3 });
    const m = T.mean(x).item();
    const v = T.mean(T.square(T.sub(x, m))).item();
    expect(Math.abs(m - 2)).toBeLessThan(0.03);
    expect(Math.abs(Math.sqrt(v) - 3)).toBeLessThan(0.03);
    const u = T.rand([n], { generator: g, low: -1, high: 3 });
    expect(T.min(u).item()).toBeGreaterThanOrEqual(-1);
    expect(T.max(u).item()).toBeLessThan(3);
    expect(Math.abs(T.mean(u).item() - 1)).toBeLessThan(0.02);
  });

  test('dropout keeps 1-p of the values scaled by 1/(1-p) and passes gradients through the mask', () => {
    const x = T.ones([100000], { requiresGrad: true });
    const y = T.dropout(x, 0.25, true, { generator: new T.Generator(3) });
    const vals = arr(y);
    const kept = vals.filter((v) => v !== 0);
    expect(Math.abs(kept.length / vals.length - 0.75)).toBeLessThan(0.01);
    expect(new Set(kept.map((v) => v.toFixed(5)))).toEqual(new Set([(1 / 0.75).toFixed(5)]));
    T.sum(y).backward();
    expect(arr(x.grad!)).toEqual(vals);
    expect(T.dropout(x, 0.5, false).toFloat64()[0]).toBe(1);
    expect(() => T.dropout(x, 1, true)).toThrow(/\[0, 1\)/);
  });

  test('multinomial follows the weights and never picks zero-weight entries', () => {
    const probs = T.tensor([[0.1, 0, 0.6, 0.3], [0, 0, 1, 0]]);
    const s = T.multinomial(probs, 20000, { generator: new T.Generator(9) });
    expect(s.dtype).toBe('int64');
    expect(s.shape).toEqual([2, 20000]);
    const rows = s.toArray() as number[][];
    const freq = [0, 1, 2, 3].map((k) => rows[0].filter((v) => v === k).length / 20000);
    expect(freq[1]).toBe(0);
    expect(Math.abs(freq[0] - 0.1)).toBeLessThan(0.015);
    expect(Math.abs(freq[2] - 0.6)).toBeLessThan(0.015);
    expect(rows[1].every((v) => v === 2)).toBe(true);
    expect(() => T.multinomial(T.tensor([[0, 0]]), 1)).toThrow(/sums to zero/);
    expect(() => T.multinomial(T.tensor([[1, -1]]), 1)).toThrow(/non-negative/);
  });
});
