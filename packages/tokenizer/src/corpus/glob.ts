// Expands corpus inputs (files, directories, `*` / `?` / `**` globs) into a sorted, de-duplicated file list.
import fs from 'node:fs';
import path from 'node:path';

const MAGIC = /[*?[]/;

/**
 * Each input is a file, a directory (every file below it, recursively), or a glob where `*` and `?`
 * match within one path segment, `[...]` is a character class and `**` matches any number of
 * directories. Files come out in input order, each input's matches sorted; an input that matches
 * nothing is an error (a typo should not silently train on less data).
 */
export function expandInputs(inputs: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const input of inputs) {
    const files = expandOne(input);
    if (files.length === 0) throw new Error(`corpus: no files match ${JSON.stringify(input)}`);
    for (const f of files) {
      if (!seen.has(f)) {
        seen.add(f);
        out.push(f);
      }
    }
  }
  return out;
}

function expandOne(input: string): string[] {
  if (!MAGIC.test(input)) {
    const st = statOrNull(input);
    if (!st) return [];
    return st.isDirectory() ? walk(input).sort() : [input];
  }
  // Split into the literal directory prefix and the wildcard part.
  const parts = input.split(/[\\/]/);
  const firstMagic = parts.findIndex((p) => MAGIC.test(p));
  const base = parts.slice(0, firstMagic).join('/') || (input.startsWith('/') ? '/' : '.');
  const re = globToRegExp(parts.slice(firstMagic).join('/'));
  if (!statOrNull(base)?.isDirectory()) return [];
  return walk(base)
    .filter((f) => re.test(path.relative(base, f).split(path.sep).join('/')))
    .sort();
}

/** Regular files below `dir`, recursively; symlinked directories are not followed (no cycles). */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile() || (e.isSymbolicLink() && statOrNull(p)?.isFile())) out.push(p);
  }
  return out;
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/** A glob relative to its base directory, as an anchored regex over '/'-separated relative paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` is zero or more whole directories; a trailing `**` is anything.
      if (glob[i + 2] === '/') {
        re += '(?:[^/]*/)*';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
