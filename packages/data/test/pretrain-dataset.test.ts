// Pretraining dataset: packing windows vs an independent slice of the concatenation, split by document, shuffling, cursor.
import { PretrainDataset, writeShards, validationDocs } from '@stellar/data';
import { randomDocs, tmpDir } from './util/fixtures';

const VOCAB = 1000;
const EOS = 0;
// Documents end with EOS, as pretokenize writes them.
const docs = randomDocs(40, VOCAB, 7, 1, 30).map((d) => [...d, EOS]);
const dir = tmpDir('ds');
beforeAll(async () => {
  await writeShards(docs, dir, { shardTokens: 64, vocabSize: VOCAB });
});

const rows = (ds: PretrainDataset, epoch: number) => Array.from({ length: ds.length }, (_, i) => Array.from(ds.sampleAt(epoch, i).inputIds));

test('windows of T tokens with stride T-1 over the EOS-separated concatenation; labels = inputIds', () => {
  const T = 9;
  const ds = new PretrainDataset(dir, { seqLen: T, split: 'all', shuffle: false });
  const concat = docs.flat();
  expect(ds.tokens).toBe(concat.length);
  expect(ds.length).toBe(Math.floor((concat.length - T) / (T - 1)) + 1);
  const want = Array.from({ length: ds.length }, (_, w) => concat.slice(w * (T - 1), w * (T - 1) + T));
  expect(rows(ds, 0)).toEqual(want);
  const s = ds.sampleAt(0, 3);
  expect(Array.from(s.labels)).toEqual(Array.from(s.inputIds));
  expect(s.labels).not.toBe(s.inputIds);
  expect(Array.from(s.positionIds!)).toEqual([...Array(T).keys()]);
  expect(Array.from(s.attentionMask!)).toEqual(Array(T).fill(1));
  // Every next-token pair the windows train (positions t -> t+1 inside a window) occurs exactly once.
  const pairs = new Map<number, number>();
  for (let w = 0; w < ds.length; w++) for (let t = 0; t + 1 < T; t++) pairs.set(w * (T - 1) + t, (pairs.get(w * (T - 1) + t) ?? 0) + 1);
  expect(pairs.size).toBe(ds.length * (T - 1));
  expect([...pairs.values()].every((c) => c === 1)).toBe(true);
  ds.close();
});

test('train and validation splits are disjoint by document and cover every document', () => {
  const T = 4;
  const train = new PretrainDataset(dir, { seqLen: T, split: 'train', valDocs: 6, shuffle: false });
  const val = new PretrainDataset(dir, { seqLen: T, split: 'val', valDocs: 6, shuffle: false });
  expect(train.documents + val.documents).toBe(docs.length);
  expect(val.documents).toBe(6);
  const isVal = validationDocs(docs.length, 6, 0);
  const concat = (v: number) => docs.filter((_, i) => isVal[i] === v).flat();
  expect(train.tokens).toBe(concat(0).length);
  expect(val.tokens).toBe(concat(1).length);
  const want = (c: number[], n: number) => Array.from({ length: n }, (_, w) => c.slice(w * (T - 1), w * (T - 1) + T));
  expect(rows(train, 0)).toEqual(want(concat(0), train.length));
  expect(rows(val, 0)).toEqual(want(concat(1), val.length));
  // A fraction rounds to a count; the shuffle seed does not move documents between splits.
  const v2 = new PretrainDataset(dir, { seqLen: T, split: 'val', valFraction: 0.15, seed: 99 });
  expect(v2.documents).toBe(6);
  expect(v2.tokens).toBe(val.tokens);
  for (const d of [train, val, v2]) d.close();
});

test('shuffling is a seeded permutation of the windows, different per epoch', () => {
  const plain = new PretrainDataset(dir, { seqLen: 6, split: 'all', shuffle: false });
  const a = new PretrainDataset(dir, { seqLen: 6, split: 'all', seed: 5 });
  const b = new PretrainDataset(dir, { seqLen: 6, split: 'all', seed: 5 });
  const c = new PretrainDataset(dir, { seqLen: 6, split: 'all', seed: 6 });
  const key = (r: number[][]) => r.map((x) => x.join(',')).sort();
  expect(key(rows(a, 0))).toEqual(key(rows(plain, 0)));
  expect(rows(a, 0)).toEqual(rows(b, 0));
  expect(rows(a, 1)).toEqual(rows(b, 1));
  expect(rows(a, 0)).not.toEqual(rows(a, 1));
  expect(rows(a, 0)).not.toEqual(rows(c, 0));
  expect(rows(a, 0)).not.toEqual(rows(plain, 0));
  for (const d of [plain, a, b, c]) d.close();
});

test('state()/restore() resumes exactly, across an epoch boundary', () => {
  const opts = { seqLen: 8, seed: 3, valDocs: 4 };
  const ref = new PretrainDataset(dir, opts);
  const n = ref.length;
  const uninterrupted = Array.from({ length: n + 10 }, () => Array.from(ref.next().inputIds));
  const first = new PretrainDataset(dir, opts);
  const k = n - 3;
  for (let i = 0; i < k; i++) first.next();
  const saved = JSON.parse(JSON.stringify(first.state()));
  expect(saved).toEqual({ epoch: 0, index: k, seed: 3 });
  first.close();
  const resumed = new PretrainDataset(dir, { ...opts, seed: 12345 }); // the cursor's seed wins
  resumed.restore(saved);
  expect(Array.from({ length: 13 }, () => Array.from(resumed.next().inputIds))).toEqual(uninterrupted.slice(k));
  expect(() => resumed.restore({ epoch: -1, index: 0, seed: 0 })).toThrow(/cursor.epoch/);
  for (const d of [ref, resumed]) d.close();
});

test('a split shorter than one window has no samples and says so', () => {
  const ds = new PretrainDataset(dir, { seqLen: 5000, split: 'all' });
  expect(ds.length).toBe(0);
  expect(() => ds.next()).toThrow(/fewer than seqLen 5000/);
  ds.close();
});
