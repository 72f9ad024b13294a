// Starts the engine worker from dist (compiled .js), or from the TypeScript sources under jest/ts tools.
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

// From sources a worker cannot load .ts on its own: a small boot script compiles each .ts file with
// @swc/core on require and maps '@stellar/<pkg>' to the workspace sources (as jest.preset.js does).
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

export function spawnEngineWorker(data: Record<string, unknown>): Worker {
  const name = 'engine-worker';
  const compiled = [path.join(__dirname, `${name}.js`), path.join(__dirname, '..', `${name}.js`)].find((f) => fs.existsSync(f));
  if (!__filename.endsWith('.ts') && compiled) return new Worker(compiled, { workerData: data });
  const source = path.join(__dirname, `${name}.ts`);
  if (!fs.existsSync(source)) throw new Error(`@stellar/serve: worker entry ${name}.js not found next to ${__dirname} (is the package built?)`);
  return new Worker(DEV_BOOT, {
    eval: true,
    workerData: { ...data, __entry: source, __packages: path.resolve(__dirname, '..', '..'), __swc: require.resolve('@swc/core', { paths: [__dirname, process.cwd()] }) },
  });
}
