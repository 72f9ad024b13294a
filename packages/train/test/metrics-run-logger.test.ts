// runLogger: one run directory gets metrics.jsonl, a TensorBoard file, progress output and plots; resume truncates.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readMetrics, runLogger } from '../src/metrics';
import type { StepInfo } from '../src/trainer/logger';
import { decodeEvent, readTfRecords } from './metrics-tfrecord-reader';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-runlog-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const stepInfo = (step: number, maxSteps: number): StepInfo => ({
  step, maxSteps, loss: 5 / Math.sqrt(step), lr: 1e-3, gradNorm: step === 3 ? NaN : 0.5, tokens: 256, targetTokens: 250,
  elapsedMs: step * 10, metrics: { aux_loss: 0.01 },
});

function simulate(from: number, to: number, maxSteps: number) {
  const out: string[] = [];
  const log = runLogger(dir, { stream: { write: (s: string) => { out.push(s); return true; } }, progressIntervalSecs: 0 });
  for (let step = from; step <= to; step++) {
    log.step(stepInfo(step, maxSteps));
    if (step % 10 === 0) log.eval({ step, loss: 4 / Math.sqrt(step), perplexity: Math.exp(4 / Math.sqrt(step)), tokens: 1000 });
  }
  log.message('done');
  log.close(null);
  log.close(null); // idempotent
  return out.join('');
}

test('a run writes metrics.jsonl, a TensorBoard file, progress lines and plots', () => {
  const out = simulate(1, 30, 30);
  const recs = readMetrics(path.join(dir, 'metrics.jsonl'));
  expect(recs).toHaveLength(33);
  expect(recs[0]).toMatchObject({ step: 1, loss: 5, lr: 1e-3, tokens: 256, target_tokens: 250, aux_loss: 0.01, grad_norm: 0.5 });
  expect(recs[2].grad_norm).toBeUndefined(); // clipping off → NaN norm is not logged
  expect(recs.filter((r) => 'eval_loss' in r).map((r) => r.step)).toEqual([10, 20, 30]);

  const files = fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'));
  expect(files).toHaveLength(1);
  const events = readTfRecords(fs.readFileSync(path.join(dir, files[0]))).map(decodeEvent);
  const tags = (t: string) => events.filter((e) => e.values?.[0].tag === t).map((e) => [e.step, e.values![0].simpleValue]);
  expect(tags('train/loss')).toEqual(recs.filter((r) => 'loss' in r).map((r) => [r.step, Math.fround(r.loss)]));
  expect(tags('eval/ppl').map((x) => x[0])).toEqual([10, 20, 30]);

  expect(out).toMatch(/step 30\/30 \[=+\] 100% \| loss 0\.913 \| lr 1\.0e-3 \| [\d.]+k? tok\/s \| elapsed \d:\d\d \| ETA 0:00\n/);
  expect(out).toContain('eval @10: loss 1.2649 | ppl 3.54 | 1000 tokens\n');
  expect(out).toContain('done\n');
  expect(fs.existsSync(path.join(dir, 'loss.png'))).toBe(true);
  expect(fs.existsSync(path.join(dir, 'lr.png'))).toBe(true);
});

test('resuming from a step-20 checkpoint drops the later lines and continues the file', () => {
  simulate(1, 27, 40); // killed after step 27; the last checkpoint was at step 20
  simulate(21, 40, 40);
  const recs = readMetrics(path.join(dir, 'metrics.jsonl'));
  const trainSteps = recs.filter((r) => 'loss' in r).map((r) => r.step);
  expect(trainSteps).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  expect(recs.filter((r) => 'eval_loss' in r).map((r) => r.step)).toEqual([10, 20, 30, 40]);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'))).toHaveLength(2);
});
