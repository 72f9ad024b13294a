import { defineConfig } from 'tsup';
// The CLI is one CommonJS bundle with a shebang; workspace packages stay external (their own dist).
export default defineConfig({ entry: { cli: 'src/cli.ts' }, format: ['cjs'], dts: false, shims: true, clean: true, sourcemap: true, banner: { js: '#!/usr/bin/env node' } });
