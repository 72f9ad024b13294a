import { defineConfig } from 'tsup';
// Worker entries are separate files because worker_threads loads them by path (see src/spawn-worker.ts).
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'cli/prepare': 'src/cli/prepare.ts',
    'pretokenize-worker': 'src/pretokenize-worker.ts',
    'loader-worker': 'src/loader-worker.ts',
    'parquet-worker': 'src/parquet-worker.ts',
  },
  format: ['cjs', 'esm'],
  dts: { entry: { index: 'src/index.ts' } },
  shims: true,
  clean: true,
  sourcemap: true,
});
