import { tensor, matmul, randn, manualSeed, memStats, tidy, sum } from '@stellar/tensor';

test('smoke', () => {
  const a = tensor([[1, 2], [3, 4]], { requiresGrad: true });
  const b = tensor([[5, 6], [7, 8]], { requiresGrad: true });
  const c = matmul(a, b);
  expect(c.toArray()).toEqual([[19, 22], [43, 50]]);
  const l = sum(c.mul(c));
  l.backward();
  expect(a.grad!.toArray()).toBeDefined();
  manualSeed(1);
  const r = randn([3]);
  expect(r.size).toBe(3);
  expect(memStats().liveBytes).toBeGreaterThan(0);
  tidy(() => randn([10]));
});
