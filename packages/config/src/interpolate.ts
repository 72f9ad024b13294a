// OmegaConf-style interpolation: a string "${a.b}" takes the value at a.b (keeping its type); a
// string containing "${a.b}" among other text gets it spliced in. Cycles and dangling keys are errors.
import { ConfigError } from './errors';
import { getPath } from './tree';
import { isTree, type Tree } from './yaml-io';

const WHOLE = /^\$\{([A-Za-z0-9_.-]+)\}$/;
const PART = /\$\{([A-Za-z0-9_.-]+)\}/g;

export function interpolate(root: Tree): Tree {
  const resolving = new Set<string>();
  const resolveAt = (path: string, from: string): unknown => {
    if (resolving.has(path)) throw new ConfigError(`interpolation cycle through "${path}" (from "${from}")`);
    const v = getPath(root, path);
    if (v === undefined) throw new ConfigError(`"${from}" refers to \${${path}}, which is not set`);
    resolving.add(path);
    try { return walk(v, path); } finally { resolving.delete(path); }
  };
  const walk = (v: unknown, at: string): unknown => {
    if (typeof v === 'string') {
      const m = WHOLE.exec(v);
      if (m) return resolveAt(m[1], at);
      return v.replace(PART, (_s, p: string) => String(resolveAt(p, at)));
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${at}[${i}]`));
    if (isTree(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, at ? `${at}.${k}` : k)]));
    return v;
  };
  return walk(root, '') as Tree;
}
