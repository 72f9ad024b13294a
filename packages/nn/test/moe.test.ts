// MoeBlock against the float64 reference in moe-ref.ts: forward, gradients of x / router / experts /
// shared expert by finite differences, capacity dropping on hand-made routing, aux and z losses (also
// against transformers' load_balancing_loss_func on the Mixtral golden fixture), router noise only in
// training, HF parameter names and the fused -> on-disk name mapping.
import { Tensor, Generator, add, mul, sum, tidy, noGrad, copyInto } from '@stellar/tensor';
import { MoeBlock, makeConfig, loadBalancingLoss, routerZLoss, mixtralFusedToLegacy, routeTokens, type ModelConfig } from '../src';
import { refMoe, refExpert, type Params } from './moe-ref';
import { loadGolden } from './util/fixture';
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

const N = 6, C = 8, F = 12, E = 4, K = 2;
const cfg = (o: Partial<ModelConfig> = {}): ModelConfig => makeConfig({
  vocabSize: 16, hiddenSize: C, intermediateSize: F, numHiddenLayers: 1, numAttentionHeads: 2,
  numLocalExperts: E, numExpertsPerTok: K, initializerRange: 0.5, ...o,
});

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 * 2 - 1; };
}
const f32 = (n: number, r: () => number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => r() * scale);
const params = (b: MoeBlock): Params => new Map([...b.namedParameters()].map(([n, p]) => [n, { data: p.data.toFloat64(), shape: p.shape }]));
const asX = (a: Float32Array, n = N): Tensor => Tensor.fromArray(a, [1, n, C]);

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) throw new Error(`${what}[${i}]: ${got[i]} vs reference ${want[i]}`);
  }
}

describe.each([false, true])('MoeBlock vs float64 reference (shared expert %s)', (shared) => {
  test('forward and gradients of x, router and every expert weight', () => {
    const c = cfg({ sharedExpertIntermediateSize: shared ? 5 : 0, routerZLossCoef: 0 });
    const block = new MoeBlock(c, new Generator(3));
    const r = lcg(11);
    const xa = f32(N * C, r);
    const wy = Float64Array.from({ length: N * C }, () => r());   // random cotangent of y
    const A = 0.7, Z = 0.3;                                        // the losses enter the scalar too
    const p = params(block);
    const ref = refMoe(p, Float64Array.from(xa), N, C, { E, k: K, shared });
    expect(ref.margin).toBeGreaterThan(1e-3);   // no near-tie: finite differences keep the same experts
    const x = asX(xa).requiresGrad_();
    const out = block.forward(x);
    expectClose(out.y.toFloat64(), ref.y, 1e-5, 1e-4, 'y');
    expectClose(out.routerLogits.toFloat64(), ref.logits, 1e-5, 1e-4, 'router logits');
    expect(Array.from(out.topkIndices.data() as Int32Array)).toEqual(Array.from(ref.chosen));
    expect(out.auxLoss.item()).toBeCloseTo(ref.aux, 5);
    expect(out.zLoss.item()).toBeCloseTo(ref.z, 4);
    tidy(() => {
      const loss = add(add(sum(mul(out.y, Tensor.fromArray(Float32Array.from(wy), [1, N, C]))), mul(out.auxLoss, A)), mul(out.zLoss, Z));
      loss.backward();
    });
    const scalar = (pp: Params, xx: Float64Array): number => {
      const o = refMoe(pp, xx, N, C, { E, k: K, shared });
      return o.y.reduce((s, v, i) => s + v * wy[i], 0) + A * o.aux + Z * o.z;
    };
    const eps = 1e-6;
    // d/dx
    const x64 = Float64Array.from(xa);
    const gx = new Float64Array(N * C);
    for (let i = 0; i < N * C; i++) {
      const v = x64[i];
      x64[i] = v + eps; const lp = scalar(p, x64);
      x64[i] = v - eps; const lm = scalar(p, x64);
      x64[i] = v; gx[i] = (lp - lm) / (2 * eps);
    }
    expectClose(x.grad!.toFloat64(), gx, 1e-4, 1e-3, 'grad x');
    // d/dparam for every parameter (router, each expert, shared expert)
    const names = [...block.namedParameters()].map(([n]) => n);
    expect(names).toContain('gate.weight');
    for (const [name, par] of block.namedParameters()) {
      const w = p.get(name)!.data, g = new Float64Array(w.length);
      for (let i = 0; i < w.length; i++) {
        const v = w[i];
        w[i] = v + eps; const lp = scalar(p, x64);
        w[i] = v - eps; const lm = scalar(p, x64);
        w[i] = v; g[i] = (lp - lm) / (2 * eps);
      }
      expect(par.grad).not.toBeNull();
      expectClose(par.grad!.toFloat64(), g, 1e-4, 1e-3, `grad ${name}`);
      expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(1e-4);   // every weight really gets a gradient
    }
    block.dispose();
  });
});

describe('capacity', () => {
  // gate.weight = [I_4 | 0], so a token's router logits are its first four features
  function handRouted(factor: number): { block: MoeBlock; x: Float32Array } {
    const block = new MoeBlock(cfg({ moeCapacityFactor: factor }), new Generator(5));
    const gw = new Float32Array(E * C);
    for (let e = 0; e < E; e++) gw[e * C + e] = 1;
    noGrad(() => copyInto(block.gate.weight.data, Tensor.fromArray(gw, [E, C])));
    const r = lcg(7);
    // top-2 per token: 0:{0,1} 1:{0,1} 2:{0,2} 3:{1,0} 4:{2,3} 5:{3,2}
    const route = [[3, 2, -1, -2], [2, 1, 0, -1], [2, -1, 1, -2], [1, 2, -2, -1], [-2, -1, 2, 1], [-1, -2, 1, 2]];
    const x = new Float32Array(N * C);
    for (let t = 0; t < N; t++) for (let i = 0; i < C; i++) x[t * C + i] = i < E ? route[t][i] : r();
    return { block, x };
  }

  test('assignments beyond ceil(factor * N * k / E) are dropped in token order; dropped tokens keep only surviving experts', () => {
    const { block, x } = handRouted(0.5);   // capacity ceil(0.5 * 6 * 2 / 4) = 2
    expect(block.capacity(N)).toBe(2);
    const out = block.forward(asX(x));
    // expert 0 takes tokens 0, 1 (drops 2, 3); expert 1 takes 0, 1 (drops 3); expert 2 takes 2, 4 (drops 5); expert 3 takes 4, 5
    expect(block.lastDropped).toBe(4);
    const p = params(block);
    const ref = refMoe(p, Float64Array.from(x), N, C, { E, k: K, capacity: 2 });
    expect(ref.dropped).toBe(4);
    const y = out.y.toFloat64();
    expectClose(y, ref.y, 1e-5, 1e-4, 'y with capacity');
    // token 3 lost both experts: its MoE output is 0, it passes through the residual
    expect(Array.from(y.subarray(3 * C, 4 * C))).toEqual(new Array(C).fill(0));
    // token 2 lost expert 0 and keeps w(expert 2) * expert2(x), NOT renormalised to 1
    const l = [2, -1, 1, -2].map(Math.exp), s = l.reduce((a, b) => a + b);
    const w2 = (l[2] / s) / ((l[0] + l[2]) / s);
    const e2 = refExpert(p, 'experts.2.', ['w1', 'w3', 'w2'], Float64Array.from(x.subarray(2 * C, 3 * C)));
    expectClose(y.subarray(2 * C, 3 * C), e2.map((v) => w2 * v), 1e-5, 1e-4, 'token 2');
    // without a limit nothing is dropped and token 3 gets its two experts
    const free = new MoeBlock(cfg(), new Generator(5));
    free.loadStateDict(block.stateDict());
    const y2 = free.forward(asX(x)).y.toFloat64();
    expect(free.lastDropped).toBe(0);
    expectClose(y2, refMoe(p, Float64Array.from(x), N, C, { E, k: K }).y, 1e-5, 1e-4, 'y unlimited');
    expect(Math.max(...y2.subarray(3 * C, 4 * C).map(Math.abs))).toBeGreaterThan(1e-3);
    block.dispose(); free.dispose();
  });

  test('routeTokens fills experts in token order, each token best choice first', () => {
    const idx = Int32Array.from([0, 1, 0, 1, 0, 2, 1, 0]);
    const { tokens, slots, dropped } = routeTokens(idx, 4, 2, 3, 2);
    expect(tokens).toEqual([[0, 1], [0, 1], [2]]);
    expect(slots).toEqual([[0, 2], [1, 3], [5]]);
    expect(dropped).toBe(3);
  });
});

describe('router losses', () => {
  test('aux and z loss of hand-made logits', () => {
    // 2 tokens, 3 experts, k = 1: token 0 -> expert 0, token 1 -> expert 2
    const lg = [[2, 0, 0], [0, 1, 3]];
    const logits = Tensor.fromArray(Float32Array.from(lg.flat()), [2, 3]);
    const p = lg.map((r) => { const s = r.reduce((a, v) => a + Math.exp(v), 0); return r.map((v) => Math.exp(v) / s); });
    // f = [1/2, 0, 1/2], P = mean of the rows
    const P = [0, 1, 2].map((e) => (p[0][e] + p[1][e]) / 2);
    expect(loadBalancingLoss([{ routerLogits: logits }], 3, 1).item()).toBeCloseTo(3 * (0.5 * P[0] + 0.5 * P[2]), 6);
    const lse = lg.map((r) => Math.log(r.reduce((a, v) => a + Math.exp(v), 0)));
    expect(routerZLoss([logits]).item()).toBeCloseTo((lse[0] ** 2 + lse[1] ** 2) / 2, 5);
    // a padding row (mask 0) is left out entirely
    const masked = loadBalancingLoss([{ routerLogits: logits }], 3, 1, Tensor.fromArray([1, 0], [1, 2], { dtype: 'int32' })).item();
    expect(masked).toBeCloseTo(3 * 1 * p[0][0], 6);
  });

  test('pooled over layers exactly as transformers load_balancing_loss_func (Mixtral golden fixture)', () => {
    const g = loadGolden('mixtral_golden.safetensors');
    const layers = [0, 1].map((i) => ({ routerLogits: g.tensors.get(`router_logits.${i}`)! }));
    const ours = loadBalancingLoss(layers, 4, 2).item();
    const ref = g.tensors.get('aux_loss')!.item();
    expect(Math.abs(ours - ref)).toBeLessThan(1e-6 * ref);
    // and it is not the mean of the per-layer losses
    const perLayer = layers.map((l) => loadBalancingLoss([l], 4, 2).item());
    expect(Math.abs((perLayer[0] + perLayer[1]) / 2 - ref)).toBeGreaterThan(1e-4);
  });
});

describe('router noise', () => {
  const noisy = cfg({ routerJitterNoise: 0.3, routerNoiseStd: 1.0 });
  const x = asX(f32(N * C, lcg(21)));

  test('eval mode is deterministic and equals the noise-free block', () => {
    const a = new MoeBlock(noisy, new Generator(1)).eval();
    const clean = new MoeBlock(cfg(), new Generator(1)).eval();
    const y1 = a.forward(x, { generator: new Generator(1) }).y.toFloat64();
    const y2 = a.forward(x, { generator: new Generator(2) }).y.toFloat64();
    expect(Array.from(y1)).toEqual(Array.from(y2));
    expect(Array.from(clean.forward(x).y.toFloat64())).toEqual(Array.from(y1));
    a.dispose(); clean.dispose();
  });

  test('training draws noise from the generator: reproducible per seed, different across seeds', () => {
    const a = new MoeBlock(noisy, new Generator(1)).train();
    const run = (seed: number): { y: number[]; idx: number[] } => {
      const o = a.forward(x, { generator: new Generator(seed) });
      return { y: Array.from(o.y.toFloat64()), idx: Array.from(o.topkIndices.data() as Int32Array) };
    };
    const r1 = run(1), r1b = run(1);
    expect(r1b).toEqual(r1);
    const others = [2, 3, 4, 5].map(run);
    expect(others.some((o) => o.y.some((v, i) => Math.abs(v - r1.y[i]) > 1e-4))).toBe(true);
    expect(others.some((o) => o.idx.some((v, i) => v !== r1.idx[i]))).toBe(true);   // noise changes the experts chosen
    a.eval();
    const ev = a.forward(x).y.toFloat64();
    expect(r1.y.some((v, i) => Math.abs(v - ev[i]) > 1e-4)).toBe(true);
    a.dispose();
  });

  test('logit noise only picks the experts: weights are the clean renormalised probabilities', () => {
    const c = cfg({ routerNoiseStd: 2.0 });
    const a = new MoeBlock(c, new Generator(4)).train();
    const xa = f32(N * C, lcg(5));
    const o = a.forward(asX(xa), { generator: new Generator(9) });
    const chosen = o.topkIndices.data() as Int32Array;
    const p = params(a);
    const clean = refMoe(p, Float64Array.from(xa), N, C, { E, k: K });
    expect(Array.from(chosen)).not.toEqual(Array.from(clean.chosen));   // the noise did change the routing here
    expectClose(o.routerLogits.toFloat64(), clean.logits, 1e-5, 1e-4, 'router logits stay clean');
    expectClose(o.y.toFloat64(), refMoe(p, Float64Array.from(xa), N, C, { E, k: K, chosen }).y, 1e-5, 1e-4, 'y');
    a.dispose();
  });
});

describe('parameter names', () => {
  test('on-disk Mixtral names; the shared expert uses gate/up/down_proj', () => {
    const b = new MoeBlock(cfg({ sharedExpertIntermediateSize: 5 }), new Generator(0));
    const shapes = Object.fromEntries([...b.namedParameters()].map(([n, p]) => [n, p.shape]));
    expect(shapes).toMatchObject({
      'gate.weight': [E, C], 'experts.0.w1.weight': [F, C], 'experts.0.w3.weight': [F, C], 'experts.3.w2.weight': [C, F],
      'shared_expert.gate_proj.weight': [5, C], 'shared_expert.up_proj.weight': [5, C], 'shared_expert.down_proj.weight': [C, 5],
    });
    expect(Object.keys(shapes)).toHaveLength(1 + 3 * E + 3);
    b.dispose();
  });

  test('transformers 5 fused tensors map to the on-disk names (gate rows first in gate_up_proj)', () => {
    const b = new MoeBlock(cfg(), new Generator(2));
    const sd = b.stateDict();
    const w = (n: string): Float32Array => Float32Array.from(sd.get(n)!.toFloat64());
    // build the fused layout the way transformers stores it in memory
    const gu = new Float32Array(E * 2 * F * C), dn = new Float32Array(E * C * F);
    for (let e = 0; e < E; e++) {
      gu.set(w(`experts.${e}.w1.weight`), e * 2 * F * C);
      gu.set(w(`experts.${e}.w3.weight`), e * 2 * F * C + F * C);
      dn.set(w(`experts.${e}.w2.weight`), e * C * F);
    }
    const fused = new Map<string, Tensor>([
      ['model.layers.0.mlp.gate.weight', sd.get('gate.weight')!],
      ['model.layers.0.mlp.experts.gate_up_proj', Tensor.fromArray(gu, [E, 2 * F, C])],
      ['model.layers.0.mlp.experts.down_proj', Tensor.fromArray(dn, [E, C, F])],
      ['model.norm.weight', Tensor.fromArray([1, 2], [2])],
    ]);
    const legacy = mixtralFusedToLegacy(fused);
    expect([...legacy.keys()].sort()).toEqual([
      'model.layers.0.block_sparse_moe.gate.weight',
      ...[0, 1, 2, 3].flatMap((e) => ['w1', 'w2', 'w3'].map((k) => `model.layers.0.block_sparse_moe.experts.${e}.${k}.weight`)),
      'model.norm.weight',
    ].sort());
    const prefix = 'model.layers.0.block_sparse_moe.';
    const ours = new Map([...legacy].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]));
    const c2 = new MoeBlock(cfg(), new Generator(99));
    c2.loadStateDict(ours);
    for (const [n, t] of c2.stateDict()) expect(Array.from(t.toFloat64())).toEqual(Array.from(sd.get(n)!.toFloat64()));
    b.dispose(); c2.dispose();
  });
});

test('the README MoE example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), 'Mixture of experts');
  expect(logs[0]).toEqual(['y', [2, 5, 16], 'router logits', [10, 4], 'experts', [10, 2]]);
  const [, aux, , z, , dropped] = logs[1] as number[];
  expect(Number.isFinite(aux) && aux > 0).toBe(true);
  expect(Number.isFinite(z) && z > 0).toBe(true);
  expect(Number.isInteger(dropped) && dropped >= 0 && dropped <= 20).toBe(true);
});
