import { defineConfig } from 'tsup';
// Two CommonJS bins with a shebang; workspace packages stay external (their own dist, which starts the engine worker).
export default defineConfig({ entry: { serve: 'src/serve.ts', chat: 'src/chat.ts' }, format: ['cjs'], dts: false, shims: true, clean: true, sourcemap: true, banner: { js: '#!/usr/bin/env node' } });
