// metrics.jsonl: one line per log call, written through at once; truncateAfter at resume; torn lines tolerated.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MetricsWriter, readMetrics, truncateMetrics } from '../src/metrics';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-jsonl-'));
  file = path.join(dir, 'run', 'metrics.jsonl');
});
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const lines = () => fs.readFileSync(file, 'utf8').split('\n');

test('each log() is one JSON line on disk immediately, {step, time, ...scalars}', () => {
  const w = new MetricsWriter(file);
  w.log(1, { loss: 3.5, lr: 1e-4 }, 1000.5);
  // Written through: visible to another reader before close().
  expect(lines()).toEqual(['{"step":1,"time":1000.5,"loss":3.5,"lr":0.0001}', '']);
  const before = Date.now() / 1000;
  const rec = w.log(2, { loss: 3.25, tokens: 4096 });
  expect(rec.time).toBeGreaterThanOrEqual(before - 1);
  expect(rec.time).toBeLessThan(before + 60);
  w.close();
  expect(readMetrics(file)).toEqual([
    { step: 1, time: 1000.5, loss: 3.5, lr: 1e-4 },
    { step: 2, time: rec.time, loss: 3.25, tokens: 4096 },
  ]);
});

test('NaN and infinities round-trip (JSON has no literal for them)', () => {
  const w = new MetricsWriter(file);
  w.log(1, { loss: NaN, grad_norm: Infinity, x: -Infinity }, 1);
  w.close();
  expect(lines()[0]).toBe('{"step":1,"time":1,"loss":"NaN","grad_norm":"Infinity","x":"-Infinity"}');
  const [r] = readMetrics(file);
  expect(r.loss).toBeNaN();
  expect(r.grad_norm).toBe(Infinity);
  expect(r.x).toBe(-Infinity);
});

test('a new writer on an existing file appends (resumed run continues the file)', () => {
  const a = new MetricsWriter(file);
  a.log(1, { loss: 3 }, 1);
  a.close();
  const b = new MetricsWriter(file);
  b.log(2, { loss: 2 }, 2);
  b.close();
  expect(readMetrics(file).map((r) => r.step)).toEqual([1, 2]);
});

test('truncateAfter(step) drops later lines atomically, then appending continues', () => {
  const w = new MetricsWriter(file);
  for (let s = 1; s <= 10; s++) w.log(s, { loss: 10 - s }, s);
  w.log(6, { eval_loss: 4.5 }, 11); // an eval line at an earlier step is kept by step, not by position
  expect(w.truncateAfter(6)).toBe(4);
  expect(fs.readdirSync(path.dirname(file))).toEqual(['metrics.jsonl']); // no temp file left behind
  w.log(7, { loss: 2.5 }, 20);
  w.close();
  const recs = readMetrics(file);
  expect(recs.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 6, 7]);
  expect(recs[6].eval_loss).toBe(4.5);
  expect(recs[7]).toEqual({ step: 7, time: 20, loss: 2.5 });
});

test('a torn last line (killed mid-write) is skipped by readMetrics and removed by truncateMetrics', () => {
  const w = new MetricsWriter(file);
  w.log(1, { loss: 3 }, 1);
  w.log(2, { loss: 2 }, 2);
  w.close();
  fs.appendFileSync(file, '{"step":3,"time":3,"lo');
  expect(readMetrics(file).map((r) => r.step)).toEqual([1, 2]);
  expect(truncateMetrics(file, 100)).toBe(1);
  expect(fs.readFileSync(file, 'utf8')).toBe('{"step":1,"time":1,"loss":3}\n{"step":2,"time":2,"loss":2}\n');
  // Appending after the repair starts on a fresh line instead of gluing onto the fragment.
  const again = new MetricsWriter(file);
  again.log(3, { loss: 1 }, 3);
  again.close();
  expect(readMetrics(file).map((r) => r.step)).toEqual([1, 2, 3]);
});

test('a writer opened on a file with a torn last line starts a fresh line', () => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '{"step":1,"time":1,"loss":3}\n{"step":2,"ti');
  const w = new MetricsWriter(file);
  w.log(2, { loss: 2 }, 2);
  w.close();
  expect(readMetrics(file)).toEqual([{ step: 1, time: 1, loss: 3 }, { step: 2, time: 2, loss: 2 }]);
});

test('missing file reads as empty; reserved names and use after close are errors', () => {
  expect(readMetrics(path.join(dir, 'nope.jsonl'))).toEqual([]);
  expect(truncateMetrics(path.join(dir, 'nope.jsonl'), 5)).toBe(0);
  const w = new MetricsWriter(file);
  expect(() => w.log(1, { step: 2 })).toThrow(/reserved/);
  expect(() => w.log(1, { time: 2 })).toThrow(/reserved/);
  w.close();
  expect(() => w.log(1, { loss: 1 })).toThrow(/after close/);
});
