// The op registry: every declared op runs on the CPU backend (views need no kernel), and the set of
// backends each op supports is explicit. CUDA conformance runs in packages/native when a GPU exists.
import * as T from '@stellar/tensor';

const VIEW_OPS = new Set(['view', 'permute', 'expand', 'slice']);

test('every op declared has a CPU kernel or is a view', () => {
  const names = T.opNames();
  expect(names.length).toBeGreaterThan(30);
  const missing = names.filter((n) => !VIEW_OPS.has(n) && !T.kernelDevices(n).includes('cpu'));
  expect(missing).toEqual([]);
});

test('ops are declared once', () => {
  expect(() => T.defineOp({ name: 'add', outputs: () => [] })).toThrow(/declared twice/);
});

test('CUDA kernels are registered exactly when the addon was compiled with CUDA', () => {
  const withCuda = T.opNames().filter((n) => T.kernelDevices(n).includes('cuda'));
  if (T.buildInfo().cudaCompiled) expect(withCuda.length).toBeGreaterThan(0);
  else expect(withCuda).toEqual([]);
});
