// Test helper shared by every package: runs the first ```ts block of a README (top-level await
// allowed) with console.log captured; '@stellar/*' imports resolve to the workspace sources.
import fs from 'node:fs';
import path from 'node:path';
import { transformSync } from '@swc/core';

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
const packagesDir = path.join(__dirname, '..', '..', 'packages');

export async function runReadmeExample(readmePath: string): Promise<unknown[][]> {
  const md = fs.readFileSync(readmePath, 'utf8');
  const m = md.match(/```ts\n([\s\S]*?)```/);
  if (!m) throw new Error(`no \`\`\`ts block in ${readmePath}`);
  const { code } = transformSync(m[1], { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } });
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
