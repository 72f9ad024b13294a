// The training loop: it trains and checkpoints; k micro-batches equal one batch k times larger;
// a stopped run resumes exactly (dropout on); NaN steps are skipped then stop the run; SIGINT saves and stops.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor, mul } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, type ModelConfig } from '@stellar/nn';
import { AdamW, Trainer, causalLmLoss, listCheckpoints, type Batch, type TrainLogger, type StepInfo, type LossFn } from '../src';
import { MemorySource, makeBatches } from './util/memory-source';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-train-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cfg = (extra: Partial<ModelConfig> = {}) => makeConfig({ vocabSize: 32, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, ...extra });
const quiet = (onStep?: (s: StepInfo) => void): TrainLogger => ({ step: (s) => onStep?.(s), eval() {}, message() {}, close() {} });

function setup(dir: string, extra: Partial<ModelConfig> = {}, data = makeBatches(6, 2, 16, 32)) {
  const model = new StellarForCausalLM(cfg(extra), { seed: 5 });
  const optimizer = new AdamW(model.namedParameters(), { lr: 1e-2, beta2: 0.95, weightDecay: 0.1 });
  return { model, optimizer, data: new MemorySource(data), runDir: path.join(tmp, dir), lossFn: causalLmLoss(), peakLr: 1e-2 };
}

test('trains, evaluates token-weighted, keeps the last K checkpoints and ends with one', async () => {
  const s = setup('basic');
  const r = await new Trainer({ ...s, maxSteps: 12, saveEvery: 3, keepLast: 2, evalEvery: 6, evalData: () => new MemorySource(makeBatches(2, 2, 16, 32, 9), 1),
    schedule: { name: 'cosine', warmupSteps: 2 }, logger: quiet(), handleSignals: false }).run();
  expect(r.stoppedBy).toBe('max-steps');
  expect(r.losses[11].loss).toBeLessThan(r.losses[0].loss - 0.5);
  expect(r.evals.map((e) => e.step)).toEqual([6, 12]);
  expect(r.evals[1].perplexity).toBeCloseTo(Math.exp(r.evals[1].loss), 6);
  expect(r.evals[1].tokens).toBe(2 * 2 * 15);
  expect(listCheckpoints(path.join(s.runDir, 'checkpoints'))).toEqual([9, 12]);
});

test('k micro-batches with gradient accumulation equal one batch k times larger (token-weighted)', async () => {
  const big = makeBatches(3, 4, 12, 32, 3);
  // uneven target counts per micro-batch: mask the second half of some rows
  for (const b of big) for (let t = 6; t < 12; t++) b.labels[t] = -100;
  const halves = big.flatMap((b): Batch[] => [0, 1].map((h) => ({ inputIds: b.inputIds.slice(h * 24, h * 24 + 24), labels: b.labels.slice(h * 24, h * 24 + 24), batchSize: 2, seqLen: 12 })));
  const a = setup('accum-a', {}, big), b = setup('accum-b', {}, halves);
  const ra = await new Trainer({ ...a, maxSteps: 3, logger: quiet(), handleSignals: false }).run();
  const rb = await new Trainer({ ...b, maxSteps: 3, gradAccum: 2, logger: quiet(), handleSignals: false }).run();
  ra.losses.forEach((l, i) => expect(Math.abs(l.loss - rb.losses[i].loss)).toBeLessThan(1e-5));
  for (const [n, t] of a.model.stateDict()) {
    const x = t.toFloat64(), y = b.model.stateDict().get(n)!.toFloat64();
    expect(Math.max(...x.map((v, i) => Math.abs(v - y[i])))).toBeLessThan(1e-5);
  }
});

test('a run stopped at step 4 resumes from its checkpoint and reproduces the uninterrupted losses exactly (dropout on)', async () => {
  const extra = { hiddenDropout: 0.1 };
  const full = await new Trainer({ ...setup('full', extra), maxSteps: 10, schedule: { name: 'cosine', warmupSteps: 2 }, logger: quiet(), handleSignals: false }).run();
  const first = setup('resume', extra);
  const t1: Trainer = new Trainer({ ...first, maxSteps: 10, schedule: { name: 'cosine', warmupSteps: 2 }, handleSignals: false,
    logger: quiet((s) => { if (s.step === 4) t1.requestStop('test'); }) });
  const r1 = await t1.run();
  expect(r1.stoppedBy).toBe('signal');
  expect(r1.step).toBe(4);
  const second = setup('resume', extra);   // fresh model, optimizer and data: everything comes from the checkpoint
  const r2 = await new Trainer({ ...second, maxSteps: 10, schedule: { name: 'cosine', warmupSteps: 2 }, resume: true, logger: quiet(), handleSignals: false }).run();
  expect([...r1.losses, ...r2.losses]).toEqual(full.losses);
});

test('non-finite steps are skipped; too many in a row stop the run with a checkpoint', async () => {
  let calls = 0;
  const base = causalLmLoss();
  const flaky: LossFn = (m, b, tr) => { const s = base(m, b, tr); calls++; return calls === 2 || calls >= 5 ? { ...s, loss: mul(s.loss, NaN) } : s; };
  const s = setup('nan');
  const msgs: string[] = [];
  const r = await new Trainer({ ...s, lossFn: flaky, maxSteps: 20, maxBadSteps: 3, handleSignals: false, logger: { ...quiet(), message: (t) => msgs.push(t) } }).run();
  expect(r.stoppedBy).toBe('non-finite');
  expect(r.step).toBe(3);   // calls 1, 3, 4 train; 2 is skipped; 5, 6, 7 fail in a row
  expect(msgs.filter((m) => /non-finite/.test(m)).length).toBe(4);
  expect(listCheckpoints(path.join(s.runDir, 'checkpoints'))).toEqual([r.step]);
});

test('SIGINT stops after the current step with a checkpoint', async () => {
  const s = setup('sigint');
  const t: Trainer = new Trainer({ ...s, maxSteps: 50, logger: quiet((st) => { if (st.step === 3) process.emit('SIGINT', 'SIGINT'); }) });
  const r = await t.run();
  expect(r.stoppedBy).toBe('signal');
  expect(r.step).toBe(3);
  expect(listCheckpoints(path.join(s.runDir, 'checkpoints'))).toEqual([3]);
  expect(process.listenerCount('SIGINT')).toBe(0);
  void Tensor;
});

test('training with frequent evaluation holds native memory flat (eval records no graph)', async () => {
  const { memStats } = await import('@stellar/tensor');
  const s = setup('memory');
  const live: number[] = [];
  await new Trainer({ ...s, maxSteps: 8, evalEvery: 1, evalData: () => new MemorySource(makeBatches(3, 2, 16, 32, 7), 1), handleSignals: false,
    logger: { ...quiet(), eval: () => { live.push(memStats().liveBytes); } } }).run();
  expect(live.length).toBe(8);
  expect(Math.max(...live.slice(2)) - Math.min(...live.slice(2))).toBeLessThan(64 * 1024);
});
