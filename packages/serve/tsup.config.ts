import { defineConfig } from 'tsup';
// The worker entry is its own file because worker_threads loads it by path (see src/spawn-worker.ts).
export default defineConfig({
  entry: { index: 'src/index.ts', 'engine-worker': 'src/engine-worker.ts' },
  format: ['cjs', 'esm'],
  dts: { entry: { index: 'src/index.ts' } },
  shims: true,
  clean: true,
  sourcemap: true,
});
