// Reading YAML config files (errors carry file:line:col) and writing resolved configs as YAML.
import fs from 'node:fs';
import { parseDocument, stringify } from 'yaml';
import { ConfigError } from './errors';

export type Tree = Record<string, unknown>;

export const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one YAML file whose top level is a mapping (an empty file is {}). */
export function readYaml(file: string): Tree {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new ConfigError(`cannot read ${file}: ${(e as Error).message}`); }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const at = e.linePos?.[0] ? `${file}:${e.linePos[0].line}:${e.linePos[0].col}` : file;
    throw new ConfigError(`${at}: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const v = doc.toJS();
  if (v === null || v === undefined) return {};
  if (!isTree(v)) throw new ConfigError(`${file}: the top level must be a mapping of keys, got ${Array.isArray(v) ? 'a list' : typeof v}`);
  return v;
}

/** A YAML value from the command line: numbers, booleans, null, [lists] and {maps} parse; the rest stays a string. */
export function parseValue(text: string): unknown {
  if (text === '') return '';
  const doc = parseDocument(text);
  return doc.errors.length ? text : doc.toJS();
}

export const toYaml = (v: unknown): string => stringify(v, { lineWidth: 0 });
