import * as T from '@stellar/tensor';
test('xent only', () => {
  const lg = T.randn([1024, 32000]);
  const tg = T.tensor(Int32Array.from({ length: 1024 }, (_, i) => (i * 7919) % 32000), { dtype: 'int32', shape: [1024] });
  for (let i = 0; i < 60; i++) T.tidy(() => T.crossEntropy(lg, tg));
});
