// Runs a bin from its TypeScript sources in a child process (tests only): compiles .ts with @swc/core on
// require, maps '@stellar/<pkg>' to the workspace sources, then calls the entry's main(argv) and exits
// with its code. Usage: node run-ts.cjs <entry.ts> [args...]
const Module = require('node:module');
const fs = require('node:fs');
const path = require('node:path');
const { transformSync } = require(require.resolve('@swc/core', { paths: [__dirname, process.cwd()] }));
const packages = path.join(__dirname, '..', '..', '..', '..', 'packages');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = /^@stellar\/([a-z-]+)$/.exec(request);
  return m ? path.join(packages, m[1], 'src', 'index.ts') : resolve.call(this, request, ...rest);
};
Module._extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename, sourceMaps: 'inline', module: { type: 'commonjs' },
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  });
  module._compile(code, filename);
};
const [entry, ...args] = process.argv.slice(2);
require(path.resolve(entry)).main(args).then((code) => { process.exitCode = code; }, (e) => { console.error(e); process.exitCode = 1; });
