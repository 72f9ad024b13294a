// Turns the user's list of paths and globs into a sorted, de-duplicated list of files.
import fs from 'node:fs';
import path from 'node:path';
import { globSync, isDynamicPattern } from 'tinyglobby';

/** Each entry is a file, a directory (all files below it), or a glob; a pattern matching nothing is an error. */
export function expandInputs(inputs: string | readonly string[]): string[] {
  const list = typeof inputs === 'string' ? [inputs] : inputs;
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (f: string) => {
    const abs = path.resolve(f);
    if (!seen.has(abs)) {
      seen.add(abs);
      out.push(abs);
    }
  };
  for (const entry of list) {
    if (fs.existsSync(entry)) {
      if (fs.statSync(entry).isDirectory()) globSync('**/*', { cwd: entry, absolute: true, onlyFiles: true }).sort().forEach(add);
      else add(entry);
    } else if (isDynamicPattern(entry)) {
      const files = globSync(entry, { absolute: true, onlyFiles: true }).sort();
      if (files.length === 0) throw new Error(`no files match ${JSON.stringify(entry)}`);
      files.forEach(add);
    } else {
      throw new Error(`input ${JSON.stringify(entry)} does not exist`);
    }
  }
  if (out.length === 0) throw new Error('no input files');
  return out;
}

/** Total size in bytes (for progress and MB/s). */
export function totalBytes(files: readonly string[]): number {
  return files.reduce((s, f) => s + fs.statSync(f).size, 0);
}
