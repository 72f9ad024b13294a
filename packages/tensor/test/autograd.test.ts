// Autograd semantics: accumulation, shared subexpressions, noGrad, detach, retainGraph, errors,
// and memory: saved tensors are released and training steps do not grow native memory.
import * as T from '@stellar/tensor';

const vals = (t: T.Tensor) => Array.from(t.toFloat64());

describe('autograd', () => {
  test('gradients accumulate across backward calls until zeroGrad', () => {
    const x = T.tensor([1, 2, 3], { requiresGrad: true });
    T.sum(T.mul(x, x)).backward();
    T.sum(T.mul(x, x)).backward();
    expect(vals(x.grad!)).toEqual([4, 8, 12]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  test('a tensor used twice receives the sum of both paths', () => {
    const x = T.tensor([2], { requiresGrad: true });
    const y = T.mul(x, x);          // x^2
    const z = T.add(T.mul(y, x), y); // x^3 + x^2 -> 3x^2 + 2x = 16
    z.backward();
    expect(x.grad!.item()).toBe(16);
  });

  test('noGrad records nothing; detach cuts the graph', () => {
    const x = T.tensor([1, 2], { requiresGrad: true });
    const y = T.noGrad(() => T.mul(x, 3));
    expect(y.requiresGrad).toBe(false);
    const d = T.mul(x, 2).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.storage.alive).toBe(true);
    expect(() => T.sum(d).backward()).toThrow(/does not require grad/);
  });

  test('backward twice through freed buffers fails clearly; retainGraph allows it', () => {
    const x = T.tensor([1, 2], { requiresGrad: true });
    const y = T.sum(T.exp(x));
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(vals(x.grad!).map((v) => +v.toFixed(4))).toEqual([2 * Math.E, 2 * Math.E ** 2].map((v) => +v.toFixed(4)));
    expect(() => y.backward()).toThrow(/second time/);
  });

  test('non-scalar backward needs an explicit gradient', () => {
    const x = T.tensor([1, 2], { requiresGrad: true });
    expect(() => T.mul(x, 2).backward()).toThrow(/gradient argument/);
    T.mul(x, 2).backward(T.tensor([1, 10]));
    expect(vals(x.grad!)).toEqual([2, 20]);
  });

  test('integer tensors cannot require grad; argmax outputs never do', () => {
    expect(() => T.tensor([1], { dtype: 'int32', requiresGrad: true })).toThrow(/floating point/);
    const x = T.tensor([[1, 3]], { requiresGrad: true });
    expect(T.argmax(x, 1).requiresGrad).toBe(false);
  });

  test('use of a disposed tensor is an error', () => {
    const x = T.tensor([1]);
    x.dispose();
    expect(() => T.exp(x)).toThrow(/disposed/);
    expect(() => x.data()).toThrow(/disposed/);
  });
});

describe('memory', () => {
  test('tidy releases temporaries and keeps what it returns', () => {
    const before = T.memStats().liveBytes;
    const kept = T.tidy(() => {
      const a = T.randn([256, 256]);
      const b = T.exp(a);
      return { out: T.sum(b, 1) };
    });
    expect(T.memStats().liveBytes - before).toBeLessThanOrEqual(1024 + 512);
    expect(kept.out.shape).toEqual([256]);
    kept.out.dispose();
    expect(T.memStats().liveBytes).toBe(before);
  });

  test('`using` disposes at block end', () => {
    const before = T.memStats().liveBytes;
    {
      using t = T.zeros([1000]);
      expect(T.memStats().liveBytes).toBeGreaterThan(before);
      expect(t.size).toBe(1000);
    }
    expect(T.memStats().liveBytes).toBe(before);
  });

  test('no growth of live native bytes over 100 forward+backward steps of a two-layer network', () => {
    const gen = new T.Generator(0);
    const w1 = T.randn([32, 64], { generator: gen, std: 0.1 }).requiresGrad_().keep();
    const b1 = T.zeros([64], { requiresGrad: true }).keep();
    const w2 = T.randn([64, 10], { generator: gen, std: 0.1 }).requiresGrad_().keep();
    const x = T.randn([16, 32], { generator: gen }).keep();
    const target = T.randn([16, 10], { generator: gen }).keep();
    const params = [w1, b1, w2];
    const step = () => T.tidy(() => {
      const h = T.relu(T.add(T.matmul(x, w1), b1));
      const y = T.matmul(h, w2);
      const loss = T.mean(T.square(T.sub(y, target)));
      loss.backward();
      T.noGrad(() => {
        for (const p of params) {
          const upd = T.mul(p.grad!, 0.05);
          T.copyInto(p, T.sub(p, upd));
          p.zeroGrad();
        }
      });
      return loss.item();
    });
    const first = step();
    step();
    const base = T.memStats();
    let last = first;
    for (let i = 0; i < 100; i++) last = step();
    const after = T.memStats();
    expect(after.liveBytes).toBe(base.liveBytes);
    expect(after.liveBuffers).toBe(base.liveBuffers);
    expect(last).toBeLessThan(first);  // it actually trains
    // the caching allocator serves steady-state steps without new host allocations
    expect(after.cacheHits - base.cacheHits).toBeGreaterThan(0.95 * (after.allocs - base.allocs));
  });
});
