// Starts a package's worker entry file: the compiled .js next to the caller's dist, or, when the caller
// runs from TypeScript sources (jest, ts tooling), the .ts entry through a boot script that compiles
// each .ts file with @swc/core on require and maps '@stellar/<pkg>' to the workspace sources (as
// jest.preset.js does). Shared by the packages that run work in worker threads (data, serve).
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

const DEV_BOOT = `
const Module = require('node:module');
const fs = require('node:fs');
const path = require('node:path');
const { workerData } = require('node:worker_threads');
const { transformSync } = require(workerData.__swc);
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = /^@stellar\\/([a-z-]+)$/.exec(request);
  return m ? path.join(workerData.__packages, m[1], 'src', 'index.ts') : resolve.call(this, request, ...rest);
};
Module._extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename, sourceMaps: 'inline', module: { type: 'commonjs' },
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  });
  module._compile(code, filename);
};
require(workerData.__entry);
`;

export interface WorkerEntry {
  /** The caller's __dirname and __filename: where its entry files live and whether it runs from sources. */
  dir: string;
  file: string;
  /** The entry's base name (e.g. `pretokenize-worker`). */
  name: string;
  /** The package, for error messages. */
  pkg: string;
}

/** A Worker running `name` with `data` as its workerData. */
export function spawnWorkerEntry(e: WorkerEntry, data: Record<string, unknown>): Worker {
  // dist/index.js and dist/cli/*.js both look for dist/<name>.js
  const compiled = [path.join(e.dir, `${e.name}.js`), path.join(e.dir, '..', `${e.name}.js`)].find((f) => fs.existsSync(f));
  if (!e.file.endsWith('.ts') && compiled) return new Worker(compiled, { workerData: data });
  const source = path.join(e.dir, `${e.name}.ts`);
  if (!fs.existsSync(source)) throw new Error(`${e.pkg}: worker entry ${e.name}.js not found next to ${e.dir} (is the package built?)`);
  return new Worker(DEV_BOOT, {
    eval: true,
    workerData: {
      ...data, __entry: source, __packages: path.resolve(e.dir, '..', '..'),
      __swc: require.resolve('@swc/core', { paths: [e.dir, process.cwd()] }),
    },
  });
}
