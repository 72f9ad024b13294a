// Runs the first ```ts block of a README with console.log captured; '@stellar/*' imports resolve
// to the workspace sources (the same modules the tests use).
import fs from 'node:fs';
import { transformSync } from '@swc/core';

export function runReadmeExample(readmePath: string): unknown[][] {
  const md = fs.readFileSync(readmePath, 'utf8');
  const m = md.match(/```ts\n([\s\S]*?)```/);
  if (!m) throw new Error(`no \`\`\`ts block in ${readmePath}`);
  const { code } = transformSync(m[1], { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } });
  const logs: unknown[][] = [];
  const fakeConsole = { ...console, log: (...a: unknown[]) => { logs.push(a); } };
  const req = (id: string) => {
    const mm = id.match(/^@stellar\/([a-z-]+)$/);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return mm ? require(`../../../${mm[1]}/src/index.ts`) : require(id);
  };
  const exports = {};
  new Function('require', 'exports', 'console', code)(req, exports, fakeConsole);
  return logs;
}
