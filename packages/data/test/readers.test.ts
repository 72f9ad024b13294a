// Readers: chunk boundaries (CRLF, split UTF-8), last line without newline, globs, units, bad-record policies.
import fs from 'node:fs';
import path from 'node:path';
import { BadRecordError, readJsonl, readText, readDocuments } from '@stellar/data';
import { readLines } from '../src/lines';
import { tmpDir } from './util/fixtures';

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('readLines', () => {
  const dir = tmpDir('lines');
  const text = 'héllo wörld\r\n灯塔看守人🌊\n\nlast line without newline';
  const file = path.join(dir, 'a.txt');
  fs.writeFileSync(file, text);

  test.each([1, 2, 3, 5, 7, 1024])('chunk size %i gives the same lines (CRLF stripped, UTF-8 kept whole)', async (chunkBytes) => {
    const lines = await all(readLines(file, { chunkBytes }));
    expect(lines.map((l) => l.text)).toEqual(['héllo wörld', '灯塔看守人🌊', '', 'last line without newline']);
    expect(lines.map((l) => l.line)).toEqual([1, 2, 3, 4]);
  });

  test('byte counts add up to the file size', async () => {
    let n = 0;
    await all(readLines(file, { chunkBytes: 4, onBytes: (b) => (n += b) }));
    expect(n).toBe(Buffer.byteLength(text));
  });

  test('a file ending in CRLF has no extra empty line', async () => {
    const f = path.join(dir, 'crlf.txt');
    fs.writeFileSync(f, 'a\r\nb\r\n');
    expect((await all(readLines(f, { chunkBytes: 1 }))).map((l) => l.text)).toEqual(['a', 'b']);
  });
});

describe('readJsonl', () => {
  const dir = tmpDir('jsonl');
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'b.jsonl'), '{"text":"second file"}\n');
  fs.writeFileSync(path.join(dir, 'a.jsonl'), '{"text":"one"}\r\n\n{"text":"two 🌊"}\n{"text": 3}\n{not json\n{"other":"x"}\n[1]\n{"text":"three"}');
  const a = path.join(dir, 'a.jsonl');

  test('skip: yields the good records with file:line sources and reports the bad ones', async () => {
    const s = readJsonl(path.join(dir, '**/*.jsonl'), { field: 'text', onBadRecord: 'skip', chunkBytes: 3 });
    const recs = await all(s);
    expect(recs.map((r) => r.value)).toEqual(['one', 'two 🌊', 'three', 'second file']);
    expect(recs.map((r) => r.source)).toEqual([`${a}:1`, `${a}:3`, `${a}:8`, `${path.join(dir, 'sub', 'b.jsonl')}:1`]);
    expect(s.report.count).toBe(4);
    expect(s.report.messages[0]).toBe(`${a}:4: field "text" is number, not a string`);
    expect(s.report.messages[1]).toMatch(new RegExp(`^${a.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5: invalid JSON`));
    expect(s.report.messages[2]).toBe(`${a}:6: missing field "text"`);
    expect(s.report.messages[3]).toBe(`${a}:7: expected a JSON object with a "text" field`);
  });

  test('skip keeps only the first maxErrorMessages messages but counts all', async () => {
    const s = readJsonl(a, { field: 'text', onBadRecord: 'skip', maxErrorMessages: 2 });
    await all(s);
    expect(s.report.count).toBe(4);
    expect(s.report.messages).toHaveLength(2);
    expect(s.report.toString()).toContain('and 2 more');
  });

  test('fail throws naming file:line and the reason', async () => {
    const err = await all(readJsonl(a, { field: 'text', onBadRecord: 'fail' })).catch((e) => e);
    expect(err).toBeInstanceOf(BadRecordError);
    expect(err.message).toBe(`${a}:4: field "text" is number, not a string`);
    expect(err.source).toBe(`${a}:4`);
  });

  test('without a field, parsed values are yielded', async () => {
    const f = path.join(dir, 'objs.jsonl');
    fs.writeFileSync(f, '{"conversations":[{"role":"user","content":"hi"}]}\n');
    expect((await all(readJsonl(f))).map((r) => r.value)).toEqual([{ conversations: [{ role: 'user', content: 'hi' }] }]);
  });

  test('a glob matching nothing and a missing file are errors', () => {
    expect(() => readJsonl(path.join(dir, '*.nothing'))).toThrow(/no files match/);
    expect(() => readJsonl(path.join(dir, 'missing.jsonl'))).toThrow(/does not exist/);
  });
});

describe('readText', () => {
  const dir = tmpDir('text');
  const f1 = path.join(dir, '1.txt');
  const f2 = path.join(dir, '2.txt');
  fs.writeFileSync(f1, 'para one\r\nstill one\r\n\r\n\r\npara two\n');
  fs.writeFileSync(f2, '\nonly para');

  test('line unit skips blank lines', async () => {
    const r = await all(readText([f1, f2], { unit: 'line' }));
    expect(r.map((x) => x.value)).toEqual(['para one', 'still one', 'para two', 'only para']);
    expect(r.map((x) => x.source)).toEqual([`${f1}:1`, `${f1}:2`, `${f1}:5`, `${f2}:2`]);
  });

  test('paragraph unit splits on blank lines', async () => {
    const r = await all(readText(path.join(dir, '*.txt'), { unit: 'paragraph', chunkBytes: 2 }));
    expect(r.map((x) => x.value)).toEqual(['para one\nstill one', 'para two', 'only para']);
    expect(r.map((x) => x.source)).toEqual([`${f1}:1`, `${f1}:5`, `${f2}:2`]);
  });

  test('file unit gives one document per file', async () => {
    const r = await all(readText(dir, { unit: 'file' }));
    expect(r.map((x) => x.value)).toEqual(['para one\nstill one\n\n\npara two', '\nonly para']);
  });

  test('readDocuments picks JSONL by extension', async () => {
    const j = path.join(dir, 'x.jsonl');
    fs.writeFileSync(j, '{"body":"from json"}\n');
    expect((await all(readDocuments(j, { field: 'body' }))).map((r) => r.value)).toEqual(['from json']);
    expect((await all(readDocuments(j, { format: 'text' }))).map((r) => r.value)).toEqual(['{"body":"from json"}']);
  });
});
