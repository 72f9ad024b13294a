// SFT packing: every sample lands in exactly one row, intact; boundaries carry restarted positions,
// a new segment id and a masked first label; batches carry segment ids with -1 on padding.
import { trainBpe, type Tokenizer } from '@stellar/tokenizer';
import { packSamples, SftDataset, normalizeConversation, collate, BatchLoader, type Sample } from '../src';

const sample = (n: number, base: number): Sample => ({
  inputIds: Int32Array.from({ length: n }, (_, i) => base + i),
  labels: Int32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -100 : base + i)),
});

test('rows hold every sample once, intact, within maxLength; boundaries restart positions and mask the first label', () => {
  const lengths = [7, 3, 12, 5, 5, 9, 1, 16, 2, 8, 4, 6];
  const samples = lengths.map((n, i) => sample(n, 100 * (i + 1)));
  const { rows, report } = packSamples(samples, 16);
  const total = lengths.reduce((a, b) => a + b, 0);
  expect(rows.reduce((a, r) => a + r.inputIds.length, 0)).toBe(total);
  expect(report.rows).toBe(rows.length);
  expect(report.fill).toBeCloseTo(total / (rows.length * 16), 12);
  expect(rows.length).toBe(Math.ceil(total / 16));  // first-fit decreasing packs these perfectly
  const seen: number[] = [];
  for (const r of rows) {
    expect(r.inputIds.length).toBeLessThanOrEqual(16);
    let start = 0;
    for (let t = 0; t <= r.inputIds.length; t++) {
      if (t < r.inputIds.length && r.segmentIds![t] === r.segmentIds![start]) continue;
      // one segment [start, t): an original sample, whole and in order
      const idx = r.inputIds[start] / 100 - 1;
      seen.push(idx);
      const orig = samples[idx];
      expect([...r.inputIds.subarray(start, t)]).toEqual([...orig.inputIds]);
      expect([...r.positionIds!.subarray(start, t)]).toEqual([...orig.inputIds.keys()]);
      expect(r.labels[start]).toBe(-100);
      expect([...r.labels.subarray(start + 1, t)]).toEqual([...orig.labels.subarray(1)]);
      if (t < r.inputIds.length) expect(r.segmentIds![t]).toBe(r.segmentIds![start] + 1);
      start = t;
    }
  }
  expect(seen.sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
  // deterministic
  expect(packSamples(samples, 16).rows.map((r) => [...r.inputIds])).toEqual(rows.map((r) => [...r.inputIds]));
  expect(() => packSamples([sample(17, 0)], 16)).toThrow(/sample 0 has 17 tokens, more than maxLength 16/);
});

test('collate: packed rows keep their segment ids, unpacked rows are segment 0, padding is -1', () => {
  const packed = packSamples([sample(3, 100), sample(2, 200)], 8).rows[0];
  const b = collate([packed, sample(2, 300)]);
  expect(b.seqLen).toBe(5);
  expect([...b.segmentIds!]).toEqual([0, 0, 0, 1, 1, 0, 0, -1, -1, -1]);
  expect([...b.positionIds]).toEqual([0, 1, 2, 0, 1, 0, 1, 0, 0, 0]);
  expect(collate([sample(2, 300)]).segmentIds).toBeUndefined();
});

describe('SftDataset with pack', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await trainBpe(['hello there, how are you today? I am fine thanks. what is two plus two? four. '.repeat(20)], { vocabSize: 400 });
  });
  const convs = () => Array.from({ length: 9 }, (_, i) => normalizeConversation({
    conversations: [{ role: 'user', content: `what is ${'two '.repeat(i + 1)}?` }, { role: 'assistant', content: i % 2 ? 'four.' : 'I am fine thanks.' }],
  }));

  test('packs into fewer rows with the same label tokens, reported; batches carry segment ids', async () => {
    const plain = new SftDataset(tok, convs(), { maxLength: 96, shuffle: false });
    const ds = new SftDataset(tok, convs(), { maxLength: 96, pack: true, seed: 3 });
    expect(ds.report.samples).toBe(9);
    expect(ds.report.packedRows).toBe(ds.length);
    expect(ds.length).toBeLessThan(plain.length);
    expect(ds.report.packFill).toBeGreaterThan(0.5);
    let labels = 0;
    for (let i = 0; i < ds.length; i++) labels += [...ds.sampleAt(0, i).labels].filter((l) => l !== -100).length;
    expect(labels).toBe(plain.report.labelTokens);
    const loader = new BatchLoader(ds, { batchSize: 2, prefetch: 0, epochs: 1 });
    let rows = 0;
    for await (const b of loader) {
      expect(b.segmentIds).toBeDefined();
      for (let i = 0; i < b.batchSize * b.seqLen; i++) expect(b.segmentIds![i] === -1).toBe(b.attentionMask[i] === 0);
      rows += b.batchSize;
    }
    expect(rows).toBe(ds.length);
  });
});
