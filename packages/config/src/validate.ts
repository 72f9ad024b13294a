// Strict validation against a convict schema: unknown keys name themselves and the allowed keys at
// that level, wrong types name the key (convict's message), and defaults fill what is not set.
import convict from 'convict';
import { ConfigError } from './errors';
import { isTree, type Tree } from './yaml-io';

let formatsAdded = false;
/** Formats Stellar schemas use besides convict's built-ins (nat, int, Number, String, Boolean, Array, enums). */
function addFormats(): void {
  if (formatsAdded) return;
  formatsAdded = true;
  const num = (name: string, ok: (v: number) => boolean, what: string) => ({
    name,
    validate(v: unknown) { if (typeof v !== 'number' || !ok(v)) throw new Error(`must be ${what}`); },
  });
  convict.addFormats({
    'positive-number': num('positive-number', (v) => v > 0 && Number.isFinite(v), 'a positive number'),
    'non-negative-number': num('non-negative-number', (v) => v >= 0 && Number.isFinite(v), 'a number >= 0'),
    probability: num('probability', (v) => v >= 0 && v < 1, 'a probability in [0, 1)'),
    'positive-int': num('positive-int', (v) => Number.isInteger(v) && v > 0, 'an integer > 0'),
    'optional-string': { name: 'optional-string', validate(v: unknown) { if (v !== null && typeof v !== 'string') throw new Error('must be a string or null'); } },
    'string-list': {
      name: 'string-list',
      validate(v: unknown) { if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error('must be a list of strings'); },
    },
  });
}

const isLeaf = (node: unknown): boolean => isTree(node) && 'default' in node;

function checkKeys(cfg: Tree, schema: Tree, prefix: string): void {
  const allowed = Object.keys(schema).filter((k) => !k.startsWith('_'));
  for (const [k, v] of Object.entries(cfg)) {
    const key = prefix + k;
    if (!(k in schema)) {
      throw new ConfigError(`unknown config key "${key}"; allowed${prefix ? ` in ${prefix.slice(0, -1)}` : ''}: ${allowed.join(', ')}`);
    }
    const node = schema[k];
    if (isLeaf(node)) continue;
    if (!isTree(v)) throw new ConfigError(`"${key}" is a group of keys (${Object.keys(node as Tree).join(', ')}), not a value: got ${JSON.stringify(v)}`);
    checkKeys(v, node as Tree, `${key}.`);
  }
}

/** Validates a composed tree against a convict schema; returns the full config with defaults filled in. */
export function validateConfig<T>(schema: convict.Schema<T>, tree: Tree): T {
  addFormats();
  checkKeys(tree, schema as unknown as Tree, '');
  const c = convict<T>(schema, { args: [], env: {} });
  try {
    c.load(tree as never);
    c.validate({ allowed: 'strict' });
  } catch (e) {
    throw new ConfigError(`invalid config: ${(e as Error).message.split('\n').join('; ')}`);
  }
  return c.getProperties();
}

/** One line per key of a schema: `dotted.key (format, default value): doc` — for --help output. */
export function describeSchema(schema: Tree, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, node] of Object.entries(schema)) {
    if (!isTree(node)) continue;
    if (isLeaf(node)) {
      const fmt = Array.isArray(node.format) ? (node.format as unknown[]).map((x) => JSON.stringify(x)).join('|') : typeof node.format === 'function' ? node.format.name : String(node.format ?? typeof node.default);
      out.push(`${prefix}${k} (${fmt}, default ${JSON.stringify(node.default)})${node.doc ? `: ${node.doc}` : ''}`);
    } else out.push(...describeSchema(node, `${prefix}${k}.`));
  }
  return out;
}
