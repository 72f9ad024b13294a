// Dotted-path access and deep merging of plain config trees (lists are replaced, not merged).
import { ConfigError } from './errors';
import { isTree, type Tree } from './yaml-io';

export function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isTree(v) && isTree(out[k]) ? deepMerge(out[k] as Tree, v) : v;
  return out;
}

export function getPath(t: Tree, dotted: string): unknown {
  let cur: unknown = t;
  for (const part of dotted.split('.')) {
    if (!isTree(cur) || !(part in cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** Sets a dotted path, creating the intermediate mappings; a non-mapping in the way is an error. */
export function setPath(t: Tree, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  if (parts.some((p) => p === '')) throw new ConfigError(`"${dotted}" is not a valid key path`);
  let cur = t;
  parts.slice(0, -1).forEach((p, i) => {
    if (cur[p] === undefined) cur[p] = {};
    if (!isTree(cur[p])) throw new ConfigError(`cannot set "${dotted}": "${parts.slice(0, i + 1).join('.')}" is a value, not a group of keys`);
    cur = cur[p] as Tree;
  });
  cur[parts[parts.length - 1]] = value;
}
