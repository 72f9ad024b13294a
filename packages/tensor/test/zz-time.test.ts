import * as T from '@stellar/tensor';
function time(f: () => void, reps = 9): string {
  f(); f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) { const t0 = process.hrtime.bigint(); T.tidy(f); ts.push(Number(process.hrtime.bigint() - t0) / 1e6); }
  ts.sort((a, b) => a - b);
  return `${ts[Math.floor(reps / 2)].toFixed(2)} ms [${ts[0].toFixed(2)}-${ts[reps - 1].toFixed(2)}]`;
}
test('timing', () => {
  const out: string[] = [];
  T.tidy(() => {
    const x = T.randn([4096, 1024]).requiresGrad_(); const w = T.ones([1024]).requiresGrad_(); const g = T.randn([4096, 1024]);
    out.push('rmsnorm fwd+bwd (4096x1024) fused ' + time(() => { T.rmsNorm(x, w).backward(g); x.zeroGrad(); w.zeroGrad(); }));
    out.push('rmsnorm fwd+bwd (4096x1024) unfused ' + time(() => { T.mul(T.mul(x, T.rsqrt(T.add(T.mean(T.mul(x, x), -1, true), 1e-6))), w).backward(g); x.zeroGrad(); w.zeroGrad(); }));
    const q = T.randn([8, 512, 8, 64]).requiresGrad_(); const gq = T.randn([8, 8, 512, 64]);
    const pos = T.arange(0, 512, 1, { dtype: 'int32' });
    out.push('rope fwd+bwd (8,8,512,64 from permuted view) ' + time(() => { T.applyRotary(T.permute(q, [0, 2, 1, 3]), pos).backward(gq); q.zeroGrad(); }));
    const a = T.randn([4096, 1536]).requiresGrad_(); const b = T.randn([4096, 1536]).requiresGrad_(); const gs = T.randn([4096, 1536]);
    out.push('swiglu fwd+bwd (4096x1536) fused ' + time(() => { T.swiglu(a, b).backward(gs); a.zeroGrad(); b.zeroGrad(); }));
    out.push('swiglu fwd+bwd (4096x1536) unfused ' + time(() => { T.mul(T.mul(a, T.sigmoid(a)), b).backward(gs); a.zeroGrad(); b.zeroGrad(); }));
    const lg = T.randn([1024, 32000]).requiresGrad_();
    const tg = T.tensor(Int32Array.from({ length: 1024 }, (_, i) => (i * 7919) % 32000), { dtype: 'int32', shape: [1024] });
    const tg64 = T.tensor(BigInt64Array.from({ length: 1024 }, (_, i) => BigInt((i * 7919) % 32000)), { dtype: 'int64', shape: [1024, 1] });
    out.push('xent fwd (1024x32000) ' + time(() => { T.noGrad(() => T.crossEntropy(lg, tg)); }));
    out.push('xent fwd+bwd (1024x32000) fused ' + time(() => { T.crossEntropy(lg, tg).backward(); lg.zeroGrad(); }));
    out.push('xent fwd+bwd (1024x32000) unfused ' + time(() => { T.neg(T.mean(T.gather(T.logSoftmax(lg, -1), -1, tg64))).backward(); lg.zeroGrad(); }));
    const ps = [T.randn([8, 1024, 1024]), T.randn([2 * 1024 * 1024])];
    const gsz = ps.map((p) => T.randn(p.shape)); const ms = ps.map((p) => T.zeros(p.shape)); const vs = ps.map((p) => T.zeros(p.shape));
    let step = 1;
    out.push('adamw 10.5M params ' + time(() => { T.adamwStep(ps, gsz, ms, vs, { lr: 1e-3, step: step++ }); }));
  });
  console.log(`threads ${T.numThreads()}\n` + out.join('\n'));
});
