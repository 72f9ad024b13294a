// Test helper shared by every package: runs a ```ts block of a README (the first by default; top-level
// await allowed) with console.log captured; '@stellar/*' imports resolve to the workspace sources.
import fs from 'node:fs';
import path from 'node:path';
import { transformSync } from '@swc/core';

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
const packagesDir = path.join(__dirname, '..', '..', 'packages');

/**
 * Runs a ```ts block of the README: the `which`-th (0 = first), or the first one after the Markdown
 * heading that contains the string `which`.
 */
export async function runReadmeExample(readmePath: string, which: number | string = 0): Promise<unknown[][]> {
  let md = fs.readFileSync(readmePath, 'utf8');
  if (typeof which === 'string') {
    const at = md.split('\n').findIndex((l) => /^#+ /.test(l) && l.includes(which));
    if (at < 0) throw new Error(`no heading containing "${which}" in ${readmePath}`);
    md = md.split('\n').slice(at).join('\n');
  }
  const index = typeof which === 'number' ? which : 0;
  const blocks = [...md.matchAll(/```ts\n([\s\S]*?)```/g)];
  if (!blocks[index]) throw new Error(`no \`\`\`ts block ${JSON.stringify(which)} in ${readmePath} (it has ${blocks.length})`);
  const { code } = transformSync(blocks[index][1], { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } });
  const logs: unknown[][] = [];
  const fakeConsole = { ...console, log: (...a: unknown[]) => { logs.push(a); } };
  const req = (id: string) => {
    const mm = id.match(/^@stellar\/([a-z-]+)$/);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return mm ? require(path.join(packagesDir, mm[1], 'src', 'index.ts')) : require(id);
  };
  await new AsyncFunction('require', 'exports', 'console', code)(req, {}, fakeConsole);
  return logs;
}
