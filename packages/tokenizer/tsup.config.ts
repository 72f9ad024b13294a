import fs from 'node:fs';
import { defineConfig } from 'tsup';
// The counting worker is plain JS loaded by path at run time (dist/count-worker.cjs + the count-core.cjs it requires), so both are copied.
export default defineConfig({
  entry: { index: 'src/index.ts', 'cli/train-tokenizer': 'src/cli/train-tokenizer.ts' },
  format: ['cjs', 'esm'],
  dts: true,
  shims: true,
  clean: true,
  sourcemap: true,
  onSuccess: async () => {
    for (const f of ['count-worker.cjs', 'count-core.cjs']) fs.copyFileSync(`src/${f}`, `dist/${f}`);
  },
});
