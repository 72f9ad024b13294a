// Parquet: a text column read from a pyarrow-written file (tools/fixtures/make_parquet_fixture.py), nulls as bad records.
import fs from 'node:fs';
import path from 'node:path';
import { BadRecordError, openShards, pretokenize, readParquet, readDocuments } from '@stellar/data';
import { tinyTokenizer, tmpDir } from './util/fixtures';

const fixture = path.join(__dirname, 'fixtures', 'tiny.parquet');
// The same rows the generator writes (two row groups: 4 + 3 rows).
const TEXTS = [
  'The lighthouse keeper climbed the steps before dawn.',
  'Le gardien du phare monte les marches avant l’aube.',
  '灯塔看守人 🌊⚓',
  '',
  null,
  'line one\nline two',
  'Ships came home at dusk.',
];

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('reads the text column across row groups; a null is a bad record at file:row', async () => {
  const s = readParquet(fixture, { onBadRecord: 'skip' });
  const recs = await all(s);
  expect(recs.map((r) => r.value)).toEqual(TEXTS.filter((t) => t !== null));
  expect(recs.map((r) => r.source)).toEqual([1, 2, 3, 4, 6, 7].map((row) => `${fixture}:${row}`));
  expect(s.report.count).toBe(1);
  expect(s.report.messages).toEqual([`${fixture}:5: column "text" is null, not a string`]);
});

test('fail policy, a missing column, and a non-string column', async () => {
  const err = await all(readParquet(fixture)).catch((e) => e);
  expect(err).toBeInstanceOf(BadRecordError);
  expect(err.message).toBe(`${fixture}:5: column "text" is null, not a string`);
  await expect(all(readParquet(fixture, { column: 'body' }))).rejects.toThrow(/no column "body" \(columns: id, text\)/);
  const ids = readParquet(fixture, { column: 'id', onBadRecord: 'skip' });
  expect(await all(ids)).toEqual([]);
  expect(ids.report.messages[0]).toMatch(/:1: column "id" is (bigint|number), not a string/);
});

test('pretokenize reads .parquet by extension', async () => {
  const dir = tmpDir('pq');
  fs.copyFileSync(fixture, path.join(dir, 'a.parquet'));
  fs.copyFileSync(fixture, path.join(dir, 'b.parquet'));
  expect((await all(readDocuments(path.join(dir, '*.parquet'), { onBadRecord: 'skip' }))).length).toBe(12);
  const tok = await tinyTokenizer();
  const s = await pretokenize(path.join(dir, '*.parquet'), tok, path.join(dir, 'out'), { onBadRecord: 'skip', numWorkers: 1, progress: false });
  // Empty strings are not documents.
  expect(s.documents).toBe(10);
  expect(s.droppedRecords).toBe(2);
  expect(s.bytes).toBe(2 * fs.statSync(fixture).size);
  const set = openShards(path.join(dir, 'out'));
  expect(tok.decode(Array.from(set.readDoc(2)))).toBe('灯塔看守人 🌊⚓<|endoftext|>');
  set.close();
});
