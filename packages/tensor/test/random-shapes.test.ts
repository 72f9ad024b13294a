// Randomized shapes: broadcasting binary ops, reductions and matmul on random ranks, sizes
// (including 1s and 0s) and layouts, each checked with checkOp against float64 references.
import * as T from '@stellar/tensor';
import { checkOp, type Layout } from './util/check-op';
import { rng } from './util/ref';

const r = rng(2024);
const pick = <X>(xs: X[]): X => xs[Math.floor(r() * xs.length)];
const layouts: Layout[] = ['contiguous', 'transposed', 'strided', 'broadcast'];

function randomShape(maxRank: number): number[] {
  const rank = Math.floor(r() * (maxRank + 1));
  return Array.from({ length: rank }, () => pick([1, 1, 2, 3, 4, 5]));
}

/** A shape broadcast-compatible with `s`: drop leading dims and set some dims to 1. */
function compatible(s: number[]): number[] {
  const drop = Math.floor(r() * (s.length + 1));
  return s.slice(drop).map((d) => (r() < 0.3 ? 1 : d));
}

describe('random broadcasting', () => {
  for (let i = 0; i < 24; i++) {
    const a = randomShape(4);
    const b = compatible(a);
    const [sa, sb] = r() < 0.5 ? [a, b] : [b, a];
    const la = sa.length >= 2 ? pick(layouts) : 'contiguous';
    const lb = sb.length >= 2 ? pick(layouts) : 'contiguous';
    const op = pick(['add', 'sub', 'mul', 'div', 'maximum'] as const);
    test(`${op} [${sa}] (${la}) with [${sb}] (${lb})`, () => {
      const f = { add: (x: number, y: number) => x + y, sub: (x: number, y: number) => x - y, mul: (x: number, y: number) => x * y, div: (x: number, y: number) => x / y, maximum: Math.max }[op];
      checkOp({
        inputs: [{ shape: sa, layout: la, range: op === 'div' ? [0.5, 2] : [-1, 1] }, { shape: sb, layout: lb, range: op === 'div' ? [0.5, 2] : [-1, 1] }],
        ours: (x, y) => T[op](x, y),
        ref: (x, y) => x.zip(y, f),
      });
    });
  }
});

describe('random reductions', () => {
  for (let i = 0; i < 16; i++) {
    const shape = randomShape(4).map((d) => d + 1);
    if (shape.length === 0) shape.push(3);
    const axes = shape.map((_, k) => k).filter(() => r() < 0.5);
    const keepdim = r() < 0.5;
    const layout = shape.length >= 2 ? pick(layouts.slice(0, 3)) : 'contiguous';
    test(`sum/mean over [${axes}] of [${shape}] (${layout}, keepdim=${keepdim})`, () => {
      const ax = axes.length ? axes : undefined;
      const all = ax ?? shape.map((_, k) => k);
      const count = all.reduce((p, a) => p * shape[a], 1);
      checkOp({ inputs: [{ shape, layout }], ours: (x) => T.sum(x, ax, keepdim), ref: (x) => x.sum(all, keepdim) });
      checkOp({ inputs: [{ shape, layout }], ours: (x) => T.mean(x, ax, keepdim), ref: (x) => x.sum(all, keepdim).map((v) => v / count) });
    });
  }
});

describe('random matmul', () => {
  for (let i = 0; i < 12; i++) {
    const [M, K, N] = [pick([1, 2, 5]), pick([1, 3, 4]), pick([1, 2, 6])];
    const batchA = randomShape(2), batchB = compatible(batchA);
    const [ba, bb] = r() < 0.5 ? [batchA, batchB] : [batchB, batchA];
    const la = pick(layouts.slice(0, 3)), lb = pick(layouts.slice(0, 3));
    test(`[${ba}, ${M}, ${K}] (${la}) @ [${bb}, ${K}, ${N}] (${lb})`, () => {
      checkOp({ inputs: [{ shape: [...ba, M, K], layout: la }, { shape: [...bb, K, N], layout: lb }], ours: T.matmul, ref: (a, b) => a.matmul(b) });
    });
  }
});

describe('zero-size tensors', () => {
  test('elementwise, reductions and matmul on empty dims', () => {
    const x = T.zeros([0, 3]);
    expect(T.add(x, T.ones([3])).shape).toEqual([0, 3]);
    expect(T.sum(x, 0).toArray()).toEqual([0, 0, 0]);
    expect(T.matmul(x, T.ones([3, 2])).shape).toEqual([0, 2]);
    expect(T.exp(x).size).toBe(0);
  });
});
