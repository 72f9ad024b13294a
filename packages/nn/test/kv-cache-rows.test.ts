// KVCache.copyPositions and KVCache.rows: a row's history copied from another cache, shifted along
// the columns (overlapping) or read through a view of the first rows decodes exactly like the full
// forward pass over that row's tokens.
import { Tensor, noGrad, slice, tidy } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig } from '../src';
import { maxDiff } from './util/fixture';

const model = new StellarForCausalLM(makeConfig({ vocabSize: 40, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, initializerRange: 0.2, maxPositionEmbeddings: 64 }), { seed: 5 }).eval();
afterAll(() => model.dispose());
const int = (v: number[], shape: number[]) => Tensor.fromArray(v, shape, { dtype: 'int32' });
const seqA = [3, 9, 1, 30, 22, 7, 15];
const seqB = [11, 4, 38, 2];

/** Logits of the last position of a full forward pass (no cache) over `ids`. */
const fullLast = (ids: number[]) => slice(model.forward(int(ids, [1, ids.length])).logits, 1, ids.length - 1);   // (1, 1, V)

/** Prefills `ids` into a fresh 1-row cache. */
function prefill(ids: number[]) {
  const c = model.createCache(1, 16);
  model.forward(int(ids, [1, ids.length]), { cache: c });
  return c;
}

/**
 * One decode step on `cache` (rows = tokens.length) where row r holds its history in columns
 * [starts[r], cache.length) with lens[r] positions, feeding tokens[r]; logits (rows, 1, V).
 */
function decode(cache: ReturnType<typeof prefill>, starts: number[], lens: number[], tokens: number[]): Tensor {
  const n = tokens.length, S = cache.length + 1;
  const mask: number[] = [];
  for (let r = 0; r < n; r++) for (let s = 0; s < S; s++) mask.push(s >= starts[r] ? 1 : 0);
  return model.forward(int(tokens, [n, 1]), { cache, attentionMask: int(mask, [n, S]), positionIds: int(lens, [n, 1]), logitsToKeep: 1 }).logits;
}

function expectClose(a: Tensor, b: Tensor): void {
  const d = maxDiff(a, b);
  expect(d.scale).toBeGreaterThan(0.01);
  expect(d.abs).toBeLessThan(2e-5);
}

test('histories copied into other rows and columns of a batch cache decode like full forwards', () => noGrad(() => tidy(() => {
  const a = prefill(seqA.slice(0, -1)), b = prefill(seqB.slice(0, -1));
  const big = model.createCache(3, 20);
  // row 0 ends at column 10, row 2 too, with different start columns; row 1 stays empty but visible to itself
  big.copyPositions(a, 0, 0, 0, 10 - (seqA.length - 1), seqA.length - 1);
  big.copyPositions(b, 0, 0, 2, 10 - (seqB.length - 1), seqB.length - 1);
  big.length = 10;
  const out = decode(big, [10 - (seqA.length - 1), 10, 10 - (seqB.length - 1)], [seqA.length - 1, 0, seqB.length - 1], [seqA.at(-1)!, seqB[0], seqB.at(-1)!]);
  expectClose(slice(out, 0, 0, 1), fullLast(seqA));
  expectClose(slice(out, 0, 1, 2), fullLast([seqB[0]]));
  expectClose(slice(out, 0, 2, 3), fullLast(seqB));
  a.dispose(); b.dispose(); big.dispose();
})));

test('a history shifted along its own row (overlapping ranges, both directions) still decodes right', () => noGrad(() => tidy(() => {
  const L = seqA.length - 1;
  const c = model.createCache(1, 20);
  c.copyPositions(prefill(seqA.slice(0, -1)), 0, 0, 0, 8, L);   // [8, 14)
  c.copyPositions(c, 0, 8, 0, 10, L);                         // right by 2, overlapping: [10, 16)
  c.copyPositions(c, 0, 10, 0, 7, L);                         // left by 3, overlapping: [7, 13)
  c.length = 13;
  expectClose(decode(c, [7], [L], [seqA.at(-1)!]), fullLast(seqA));
  c.dispose();
})));

test('rows(n) views the first rows with their own length; the parent buffers see the appended step', () => noGrad(() => tidy(() => {
  const big = model.createCache(4, 16);
  big.copyPositions(prefill(seqA.slice(0, -2)), 0, 0, 0, 0, seqA.length - 2);
  const starts = [0, 5 - (seqB.length - 2)];
  big.copyPositions(prefill(seqB.slice(0, -2)), 0, 0, 1, starts[1], seqB.length - 2);
  big.length = 5;
  const view = big.rows(2);
  expect(view.batch).toBe(2);
  expect(view.length).toBe(5);
  const out = decode(view, starts, [seqA.length - 2, seqB.length - 2], [seqA.at(-2)!, seqB.at(-2)!]);
  expect(view.length).toBe(6);
  expect(big.length).toBe(5);
  expectClose(slice(out, 0, 0, 1), fullLast(seqA.slice(0, -1)));
  expectClose(slice(out, 0, 1, 2), fullLast(seqB.slice(0, -1)));
  view.dispose();
  // the step went into the parent's buffers: one more token through the parent continues both rows
  big.length = 6;
  const both = decode(big.rows(2), starts, [seqA.length - 1, seqB.length - 1], [seqA.at(-1)!, seqB.at(-1)!]);
  expectClose(slice(both, 0, 0, 1), fullLast(seqA));
  expectClose(slice(both, 0, 1, 2), fullLast(seqB));
  expect(() => big.rows(5)).toThrow(/n must be in \[1, 4\]/);
  expect(() => big.copyPositions(big, 0, 10, 1, 0, 8)).toThrow(/outside the caches/);
  big.dispose();
})));
