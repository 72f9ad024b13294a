// Packed SFT rows through causalLmLoss: the loss and every gradient equal those of the same samples
// unpacked (one per row, right-padded), because segment ids keep attention inside each sample,
// positions restart, and the first label of each packed sample is masked.
import { noGrad, tidy } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig } from '@stellar/nn';
import { collate, packSamples, type Sample } from '@stellar/data';
import { causalLmLoss, countTargets } from '../src';

const sample = (ids: number[], firstLabelled: number): Sample => ({
  inputIds: Int32Array.from(ids),
  labels: Int32Array.from(ids, (t, i) => (i >= firstLabelled ? t : -100)),
});

test('a packed batch gives the unpacked loss and gradients', () => {
  const model = new StellarForCausalLM(makeConfig({ vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2 }), { seed: 3 });
  const samples = [sample([1, 5, 9, 2, 7, 3], 3), sample([1, 8, 4, 6], 2), sample([1, 11, 12, 13, 14, 15, 16], 4), sample([1, 30, 31], 1)];
  const packed = collate(packSamples(samples, 12).rows);
  const plain = collate(samples);
  expect(packed.batchSize).toBeLessThan(plain.batchSize);
  expect(countTargets(packed)).toBe(countTargets(plain));
  const loss = causalLmLoss();
  const run = (b: typeof packed) => {
    model.zeroGrad();
    const l = tidy(() => { const s = loss(model, b, true); s.loss.backward(); return s.loss.item(); });
    return { l, grads: model.parameters().map((p) => p.grad!.toFloat64()) };
  };
  const a = run(packed), b = run(plain);
  expect(Math.abs(a.l - b.l)).toBeLessThan(1e-6 * Math.abs(b.l));
  a.grads.forEach((g, i) => {
    let worst = 0, scale = 0;
    for (let k = 0; k < g.length; k++) { worst = Math.max(worst, Math.abs(g[k] - b.grads[i][k])); scale = Math.max(scale, Math.abs(b.grads[i][k])); }
    expect(worst).toBeLessThanOrEqual(1e-5 * Math.max(scale, 1e-3));
  });
  // without the segment ids the packed rows leak attention across samples and the loss moves
  const leaky = { ...packed, segmentIds: undefined };
  const l2 = noGrad(() => loss(model, leaky, false).loss.item());
  expect(Math.abs(l2 - b.l)).toBeGreaterThan(1e-4);
});
