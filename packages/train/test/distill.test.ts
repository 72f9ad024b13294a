// Distillation: the KL term equals a float64 reference, its gradient is T (softmax(s/T) - softmax(t/T))
// on target positions, and training a student on a teacher's soft targets reduces the KL.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor, tidy } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig } from '@stellar/nn';
import { AdamW, Trainer, distillKl, distillLoss, targetMask, type TrainLogger } from '../src';
import { MemorySource, makeBatches } from './util/memory-source';

const softmax = (x: number[]) => { const m = Math.max(...x); const e = x.map((v) => Math.exp(v - m)); const s = e.reduce((a, b) => a + b); return e.map((v) => v / s); };

test('KL * T^2 over target positions and its gradient match a float64 reference', () => {
  const B = 2, T = 3, V = 5, temp = 2;
  const s = Array.from({ length: B * T * V }, (_, i) => Math.sin(i * 1.3) * 2), t = Array.from({ length: B * T * V }, (_, i) => Math.cos(i * 0.7) * 3);
  const labels = Int32Array.from([0, 1, 2, 0, 3, -100]);
  const mask = targetMask({ inputIds: new Int32Array(6), labels, batchSize: B, seqLen: T });
  expect([...mask.toFloat64()]).toEqual([1, 1, 0, 1, 0, 0]);
  const st = Tensor.fromArray(s, [B, T, V]).requiresGrad_(), tt = Tensor.fromArray(t, [B, T, V]);
  const kl = distillKl(st, tt, mask, temp);
  let ref = 0;
  const m = mask.toFloat64(), n = 3;
  const grad = new Array(B * T * V).fill(0);
  for (let r = 0; r < B * T; r++) {
    if (!m[r]) continue;
    const ps = softmax(s.slice(r * V, r * V + V).map((v) => v / temp)), pt = softmax(t.slice(r * V, r * V + V).map((v) => v / temp));
    for (let v = 0; v < V; v++) { ref += pt[v] * (Math.log(pt[v]) - Math.log(ps[v])); grad[r * V + v] = temp * (ps[v] - pt[v]) / n; }
  }
  ref *= temp * temp / n;
  expect(Math.abs(kl.item() - ref)).toBeLessThan(1e-5 * Math.max(1, ref));
  kl.backward();
  const g = st.grad!.toFloat64();
  expect(Math.max(...grad.map((v, i) => Math.abs(v - g[i])))).toBeLessThan(1e-6);
});

test('a student trained on the teacher soft targets gets closer to the teacher', async () => {
  const cfg = makeConfig({ vocabSize: 24, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 1, numAttentionHeads: 2 });
  const teacher = new StellarForCausalLM(makeConfig({ ...cfg, hiddenSize: 32, numHiddenLayers: 2, initializerRange: 0.3 }), { seed: 1 });
  const student = new StellarForCausalLM(cfg, { seed: 2 });
  const batches = makeBatches(4, 2, 12, 24);
  const klOf = () => tidy(() => {
    const b = batches[0];
    const ids = Tensor.fromArray(b.inputIds, [2, 12], { dtype: 'int32' });
    return distillKl(student.forward(ids).logits, teacher.forward(ids).logits, targetMask(b), 1).item();
  });
  const before = klOf();
  const quiet: TrainLogger = { step() {}, eval() {}, message() {}, close() {} };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-distill-'));
  const r = await new Trainer({ model: student, optimizer: new AdamW(student.namedParameters(), { lr: 1e-2 }), lossFn: distillLoss({ teacher, temperature: 1, alpha: 1 }),
    data: new MemorySource(batches), runDir: dir, maxSteps: 30, peakLr: 1e-2, logger: quiet, handleSignals: false }).run();
  fs.rmSync(dir, { recursive: true });
  expect(r.losses[29].loss).toBeLessThan(r.losses[0].loss * 0.7);
  expect(klOf()).toBeLessThan(before * 0.7);
  expect(() => distillLoss({ teacher, temperature: 0 })).toThrow(/temperature must be > 0/);
});
