// The prepare CLI, run in-process: shards + manifest from JSONL and text, printed counts, usage errors.
import fs from 'node:fs';
import path from 'node:path';
import { saveTokenizer } from '@stellar/tokenizer';
import { PretrainDataset, openShards } from '@stellar/data';
import { main, HELP } from '../src/cli/prepare';
import { tinyTokenizer, tmpDir } from './util/fixtures';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } } };
}

test('prepare writes shards, records the validation fraction and prints counts', async () => {
  const dir = tmpDir('cli');
  const tokDir = path.join(dir, 'tok');
  saveTokenizer(await tinyTokenizer(), tokDir);
  fs.writeFileSync(path.join(dir, 'a.jsonl'), Array.from({ length: 50 }, (_, i) => JSON.stringify({ body: `document number ${i}` })).join('\n') + '\n{"body": 1}\n');
  const out = path.join(dir, 'shards');
  const r = io();
  const code = await main(['prepare', '--tokenizer', tokDir, '--out', out, '--field', 'body', '--val-fraction', '0.1', '--workers', '2', '--skip-bad-records', path.join(dir, '*.jsonl')], r.io);
  expect(r.err.join('')).toBe('');
  expect(code).toBe(0);
  const text = r.out.join('');
  expect(text).toMatch(/^documents: 50$/m);
  expect(text).toMatch(/^dropped records: 1$/m);
  expect(text).toMatch(/a\.jsonl:51: field "body" is number, not a string/);
  expect(text).toMatch(/^seconds: [\d.]+$/m);
  expect(text).toMatch(/^MB\/s: [\d.]+$/m);
  const set = openShards(out);
  const tokens = Number(/^tokens: (\d+)$/m.exec(text)![1]);
  expect(set.totalTokens).toBe(tokens);
  set.close();
  const val = new PretrainDataset(out, { seqLen: 4, split: 'val' });
  expect(val.documents).toBe(5);
  val.close();

  // Plain text, one document per file; refuses to overwrite without --overwrite.
  fs.writeFileSync(path.join(dir, 'b.txt'), 'line one\nline two\n');
  const again = io();
  expect(await main(['--tokenizer', tokDir, '--out', out, '--unit', 'file', path.join(dir, 'b.txt')], again.io)).toBe(1);
  expect(again.err.join('')).toMatch(/already holds a shard set/);
  const ok = io();
  expect(await main(['--tokenizer', tokDir, '--out', out, '--unit', 'file', '--overwrite', '--workers', '0', path.join(dir, 'b.txt')], ok.io)).toBe(0);
  expect(ok.out.join('')).toMatch(/^documents: 1$/m);
});

test('--help and usage errors', async () => {
  const h = io();
  expect(await main(['--help'], h.io)).toBe(0);
  expect(h.out.join('')).toBe(HELP);
  const e = io();
  expect(await main(['--out', 'x', 'a.txt'], e.io)).toBe(2);
  expect(e.err.join('')).toMatch(/--tokenizer is required/);
  const f = io();
  expect(await main(['--tokenizer', 't', '--out', 'x', '--val-fraction', '2', 'a.txt'], f.io)).toBe(2);
  expect(f.err.join('')).toMatch(/--val-fraction: invalid value "2"/);
  const g = io();
  expect(await main(['--bogus'], g.io)).toBe(2);
});

test('prepare builtin: the built-in corpus, one document per speech or chapter; it cannot be mixed with files', async () => {
  const { builtinCorpus } = await import('../src/builtin');
  const dir = tmpDir('cli-builtin');
  const tokDir = path.join(dir, 'tok');
  saveTokenizer(await tinyTokenizer(), tokDir);
  const out = path.join(dir, 'shards');
  const r = io();
  expect(await main(['--tokenizer', tokDir, '--out', out, '--workers', '2', 'builtin'], r.io)).toBe(0);
  expect(r.out.join('')).toMatch(new RegExp(`documents: ${builtinCorpus().files.length}\\n`));
  expect(openShards(out).totalDocs).toBe(builtinCorpus().files.length);
  const bad = io();
  expect(await main(['--tokenizer', tokDir, '--out', out, 'builtin', 'x.txt'], bad.io)).toBe(2);
  expect(bad.err.join('')).toMatch(/`builtin` cannot be mixed/);
}, 120000);
