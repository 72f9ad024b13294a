// Command-line overrides: `group=option` swaps a config group, `a.b.c=value` sets a value (parsed as
// YAML, so numbers, booleans, null and [lists] get their types), anything else is refused.
import { ConfigError } from './errors';
import { parseValue } from './yaml-io';

export type Override =
  | { kind: 'group'; group: string; option: string; text: string }
  | { kind: 'value'; path: string; value: unknown; text: string };

const KEY = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/;

/** Parses `key=value` arguments; `groups` are the names of the config groups (directories). */
export function parseOverrides(args: readonly string[], groups: readonly string[]): Override[] {
  return args.map((text) => {
    const eq = text.indexOf('=');
    if (eq <= 0) throw new ConfigError(`override "${text}" is not key=value (e.g. train.lr=3e-4 or model=base)`);
    const key = text.slice(0, eq), raw = text.slice(eq + 1);
    if (!KEY.test(key)) throw new ConfigError(`override "${text}": "${key}" is not a dotted key`);
    if (!key.includes('.') && groups.includes(key)) {
      if (!/^[A-Za-z0-9_.-]+$/.test(raw)) throw new ConfigError(`override "${text}": "${raw}" is not a config name in group ${key}`);
      return { kind: 'group', group: key, option: raw, text };
    }
    return { kind: 'value', path: key, value: parseValue(raw), text };
  });
}
