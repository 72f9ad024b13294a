// Schedules, clipping, EMA and optimizer state save/restore (a restored optimizer continues exactly).
import { Tensor, tidy, copyInto } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, Parameter } from '@stellar/nn';
import { AdamW, Muon, SGD, WeightEma, clipGradNorm, gradNorm, lrMultiplier, newtonSchulz, type Optimizer } from '../src';

test('warmup + cosine: linear ramp, peak after warmup, floor at the end', () => {
  const o = { name: 'cosine' as const, totalSteps: 100, warmupSteps: 10, minLrRatio: 0.1 };
  expect(lrMultiplier(0, o)).toBeCloseTo(0.1);
  expect(lrMultiplier(9, o)).toBeCloseTo(1);
  expect(lrMultiplier(10, o)).toBeCloseTo(1);
  expect(lrMultiplier(55, o)).toBeCloseTo(0.1 + 0.9 * 0.5, 6);   // halfway through the decay
  expect(lrMultiplier(100, o)).toBeCloseTo(0.1);
  for (let s = 11; s < 100; s++) expect(lrMultiplier(s, o)).toBeLessThanOrEqual(lrMultiplier(s - 1, o));
});

test('WSD: warmup, flat at the peak, then a linear decay over the last fraction; constant stays at 1', () => {
  const o = { name: 'wsd' as const, totalSteps: 100, warmupSteps: 10, decayFraction: 0.2, minLrRatio: 0 };
  expect(lrMultiplier(4, o)).toBeCloseTo(0.5);
  expect(lrMultiplier(50, o)).toBe(1);
  expect(lrMultiplier(79, o)).toBe(1);
  expect(lrMultiplier(89, o)).toBeCloseTo(0.5);
  expect(lrMultiplier(99, o)).toBeCloseTo(0);
  expect(lrMultiplier(500, { name: 'constant', totalSteps: 10 })).toBe(1);
  expect(() => lrMultiplier(0, { name: 'linear' as never, totalSteps: 10 })).toThrow(/unknown schedule "linear"; allowed: cosine, wsd, constant/);
  expect(() => lrMultiplier(0, { name: 'cosine', totalSteps: 10, warmupSteps: 11 })).toThrow(/warmupSteps/);
});

test('clipGradNorm scales every gradient to the max norm and reports the norm before; NaN is reported untouched', () => {
  const a = new Parameter(Tensor.fromArray([1, 2], [2])), b = new Parameter(Tensor.fromArray([2], [1]));
  a.data.grad = Tensor.fromArray([3, 0], [2]);
  b.data.grad = Tensor.fromArray([4], [1]);
  expect(clipGradNorm([a, b], 1)).toBeCloseTo(5);
  expect(gradNorm([a, b])).toBeCloseTo(1, 5);
  expect([...a.grad!.toFloat64()].map((x) => +x.toFixed(5))).toEqual([0.6, 0]);
  b.data.grad = Tensor.fromArray([NaN], [1]);
  expect(clipGradNorm([a, b], 1)).toBeNaN();
  expect(a.grad!.toFloat64()[0]).toBeCloseTo(0.6, 5);
});

test('Newton-Schulz orthogonalizes: singular values of the result lie near 1 for tall and wide inputs', () => {
  for (const shape of [[6, 10], [10, 6]]) {
    const g = Tensor.fromArray(Array.from({ length: 60 }, (_, i) => Math.sin(i * 1.7) + (i % 7) * 0.1), shape);
    tidy(() => {
      const o = newtonSchulz(g);
      const [r, c] = shape;
      const x = o.toFloat64();
      // O^T O (c x c) or O O^T (r x r): its eigenvalues are the squared singular values, so its diagonal ~ in [0.25, 2.3]
      const small = Math.min(r, c);
      for (let i = 0; i < small; i++) {
        let d = 0;
        for (let k = 0; k < Math.max(r, c); k++) d += r < c ? x[i * c + k] ** 2 : x[k * c + i] ** 2;
        expect(d).toBeGreaterThan(0.2);
        expect(d).toBeLessThan(2.5);
      }
    });
  }
});

test('weight EMA tracks decay * ema + (1 - decay) * w', () => {
  const m = new StellarForCausalLM(makeConfig({ vocabSize: 16, hiddenSize: 8, intermediateSize: 8, numHiddenLayers: 1, numAttentionHeads: 2 }), { seed: 1 });
  const ema = new WeightEma(m, 0.5);
  const w0 = m.stateDict().get('model.norm.weight')!.toFloat64();
  copyInto(m.model.norm.weight.data, Tensor.fromArray(new Array(8).fill(3), [8]));
  ema.update();
  expect([...ema.stateDict().get('model.norm.weight')!.toFloat64()]).toEqual([...w0].map((w) => 0.5 * w + 1.5));
  ema.dispose(); m.dispose();
});

describe.each([
  ['AdamW', (m: StellarForCausalLM) => new AdamW(m.namedParameters(), { lr: 1e-2, weightDecay: 0.1 })],
  ['Muon', (m: StellarForCausalLM) => new Muon(m.namedParameters(), { lr: 0.02, adamw: { lr: 1e-2 } })],
  ['SGD', (m: StellarForCausalLM) => new SGD(m.namedParameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 })],
] as [string, (m: StellarForCausalLM) => Optimizer][])('%s state', (_name, make) => {
  test('save after 3 steps, restore into a fresh optimizer: the next steps are identical', () => {
    const cfg = makeConfig({ vocabSize: 24, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2 });
    const ids = Tensor.fromArray([1, 5, 9, 2, 7, 3, 8, 4], [2, 4], { dtype: 'int32' });
    const stepOnce = (m: StellarForCausalLM, o: Optimizer) => tidy(() => { m.zeroGrad(); const l = m.forward(ids, { labels: ids }).loss!; l.backward(); o.step(); return l.item(); });
    const a = new StellarForCausalLM(cfg, { seed: 3 }), oa = make(a);
    for (let i = 0; i < 3; i++) stepOnce(a, oa);
    // snapshot model + optimizer, as a checkpoint would
    const b = new StellarForCausalLM(cfg, { seed: 99 });
    b.loadStateDict(a.stateDict());
    const ob = make(b);
    const st = oa.state();
    ob.loadState({ tensors: new Map([...st.tensors].map(([k, t]) => [k, t.clone()])), meta: JSON.parse(JSON.stringify(st.meta)) });
    expect(ob.stepCount).toBe(3);
    const la = [0, 1, 2].map(() => stepOnce(a, oa)), lb = [0, 1, 2].map(() => stepOnce(b, ob));
    expect(lb).toEqual(la);
    expect(() => make(new StellarForCausalLM({ ...cfg, numHiddenLayers: 2 })).loadState(st)).toThrow(/does not fit these parameters|missing/);
    oa.dispose(); ob.dispose(); a.dispose(); b.dispose();
  });
});
