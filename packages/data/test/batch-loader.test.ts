// Batch loader: same batches with and without the prefetch worker, resume with prefetched batches in flight, collation.
import { BatchLoader, PretrainDataset, collate, writeShards, type Batch } from '@stellar/data';
import { randomDocs, tmpDir } from './util/fixtures';

const dir = tmpDir('loader');
beforeAll(async () => {
  await writeShards(randomDocs(60, 5000, 11, 1, 50).map((d) => [...d, 0]), dir, { shardTokens: 200, vocabSize: 5000 });
});
const dsOpts = { seqLen: 16, seed: 1, valFraction: 0.1 };

async function take(l: BatchLoader, n: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < n; i++) {
    const b = await l.next();
    if (!b) break;
    out.push(b);
  }
  return out;
}
const plain = (bs: Batch[]) => bs.map((b) => ({ ...b, inputIds: Array.from(b.inputIds), labels: Array.from(b.labels), attentionMask: Array.from(b.attentionMask), positionIds: Array.from(b.positionIds) }));

test('prefetching in a worker gives the same batches as assembling on the main thread', async () => {
  const ds = new PretrainDataset(dir, dsOpts);
  const perEpoch = Math.floor(ds.length / 4);
  const sync = await take(new BatchLoader(ds, { batchSize: 4, prefetch: 0 }), 2 * perEpoch + 3);
  const pre = new BatchLoader(ds, { batchSize: 4, prefetch: 3 });
  const fetched = await take(pre, 2 * perEpoch + 3);
  pre.close();
  expect(fetched.length).toBe(2 * perEpoch + 3);
  expect(plain(fetched)).toEqual(plain(sync));
  // Overlapping next() calls are served in order.
  const concurrent = new BatchLoader(ds, { batchSize: 4, prefetch: 2 });
  const three = await Promise.all([concurrent.next(), concurrent.next(), concurrent.next()]);
  concurrent.close();
  expect(plain(three as Batch[])).toEqual(plain(sync.slice(0, 3)));
  // Rows are the dataset's samples in cursor order, B x T row-major.
  const b0 = sync[0];
  expect([b0.batchSize, b0.seqLen, b0.inputIds.length]).toEqual([4, 16, 64]);
  expect(Array.from(b0.inputIds.subarray(16, 32))).toEqual(Array.from(ds.sampleAt(0, 1).inputIds));
  // The second epoch starts at sample 0 of epoch 1's order (the short tail of epoch 0 is dropped).
  expect(Array.from(sync[perEpoch].inputIds.subarray(0, 16))).toEqual(Array.from(ds.sampleAt(1, 0).inputIds));
  ds.close();
});

test('a resumed loader continues exactly where the saved one stopped, prefetched batches not counted', async () => {
  const ds = new PretrainDataset(dir, dsOpts);
  const full = await take(new BatchLoader(ds, { batchSize: 3, prefetch: 0, dropLast: false }), 40);
  const a = new BatchLoader(ds, { batchSize: 3, prefetch: 4, dropLast: false });
  const k = 7;
  const head = await take(a, k);
  await new Promise((r) => setTimeout(r, 50)); // let the worker run ahead
  const saved = JSON.parse(JSON.stringify(a.state()));
  a.close();
  const ds2 = new PretrainDataset(dir, dsOpts);
  const b = new BatchLoader(ds2, { batchSize: 3, prefetch: 2, dropLast: false });
  b.restore(saved);
  const tail = await take(b, 40 - k);
  b.close();
  expect(plain([...head, ...tail])).toEqual(plain(full));
  // Epoch ends are kept with dropLast: false (a short batch closes each epoch).
  expect(full.some((x) => x.batchSize < 3) || ds.length % 3 === 0).toBe(true);
  ds.close();
  ds2.close();
});

test('epochs bound the iteration; for-await works and stops the worker', async () => {
  const ds = new PretrainDataset(dir, { ...dsOpts, split: 'val' });
  const n = Math.floor(ds.length / 2);
  let count = 0;
  for await (const b of new BatchLoader(ds, { batchSize: 2, epochs: 2 })) count += b.batchSize > 0 ? 1 : 0;
  expect(count).toBe(2 * n);
  expect(() => new BatchLoader(ds, { batchSize: 0 })).toThrow(/batchSize/);
  await expect(new BatchLoader(ds, { batchSize: 10_000, prefetch: 0 }).next()).rejects.toThrow(/not enough for one batch/);
  ds.close();
});

test('collate pads shorter samples: pad id, label -100, mask 0', () => {
  const b = collate(
    [
      { inputIds: Int32Array.of(5, 6, 7), labels: Int32Array.of(-100, 6, 7) },
      { inputIds: Int32Array.of(8), labels: Int32Array.of(8), positionIds: Int32Array.of(4) },
    ],
    2,
  );
  expect([b.batchSize, b.seqLen]).toEqual([2, 3]);
  expect(Array.from(b.inputIds)).toEqual([5, 6, 7, 8, 2, 2]);
  expect(Array.from(b.labels)).toEqual([-100, 6, 7, 8, -100, -100]);
  expect(Array.from(b.attentionMask)).toEqual([1, 1, 1, 1, 0, 0]);
  expect(Array.from(b.positionIds)).toEqual([0, 1, 2, 4, 0, 0]);
});
