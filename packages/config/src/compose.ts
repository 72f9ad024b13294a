// Hydra-like composition: a primary config (an experiment) lists defaults — one option per group
// (`model: small`) and `_self_` — each group option's file is merged under its group key in that
// order, CLI group swaps replace defaults, CLI values are applied last, then ${...} interpolation.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors';
import { parseOverrides, type Override } from './overrides';
import { deepMerge, setPath } from './tree';
import { interpolate } from './interpolate';
import { isTree, readYaml, type Tree } from './yaml-io';

export interface ComposeOptions {
  /** Folder holding one sub-folder per group (model/, data/, train/, experiment/). */
  configDir: string;
  /** Name of the primary config in the `experiment` group (can also come from an `experiment=name` override). */
  experiment?: string;
  /** `key=value` / `group=option` overrides, applied in order. */
  overrides?: readonly string[];
}

export interface Composed {
  /** The resolved tree (not yet validated against a schema). */
  config: Tree;
  /** The option chosen for each group. */
  choices: Record<string, string>;
  overrides: string[];
}

/** The group folders of a config dir and the options (YAML files) in each. */
export function listGroups(configDir: string): Record<string, string[]> {
  if (!fs.existsSync(configDir)) throw new ConfigError(`config directory ${configDir} not found`);
  const out: Record<string, string[]> = {};
  for (const d of fs.readdirSync(configDir, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    out[d.name] = fs.readdirSync(path.join(configDir, d.name)).filter((f) => /\.ya?ml$/.test(f)).map((f) => f.replace(/\.ya?ml$/, '')).sort();
  }
  return out;
}

function optionFile(configDir: string, groups: Record<string, string[]>, group: string, option: string): string {
  if (!(group in groups)) throw new ConfigError(`unknown config group "${group}"; groups: ${Object.keys(groups).sort().join(', ')}`);
  if (!groups[group].includes(option)) throw new ConfigError(`no config "${option}" in group ${group}; available: ${groups[group].join(', ') || '(none)'}`);
  const yml = path.join(configDir, group, `${option}.yaml`);
  return fs.existsSync(yml) ? yml : path.join(configDir, group, `${option}.yml`);
}

/** `group: option` merges the option's file under `group`; `group@key: option` merges it under `key` (Hydra's package). */
type DefaultEntry = { group: string; option: string; pkg: string } | '_self_';

function readDefaults(file: string, v: unknown): DefaultEntry[] {
  if (v === undefined) return ['_self_'];
  if (!Array.isArray(v)) throw new ConfigError(`${file}: defaults must be a list like [{model: small}, _self_]`);
  const out: DefaultEntry[] = v.map((e, i) => {
    if (e === '_self_') return '_self_';
    if (isTree(e) && Object.keys(e).length === 1) {
      const [spec, option] = Object.entries(e)[0];
      const [group, pkg = group] = spec.split('@');
      if (typeof option === 'string' && group && pkg) return { group, option, pkg };
    }
    throw new ConfigError(`${file}: defaults[${i}] must be "_self_" or {group: option}, got ${JSON.stringify(e)}`);
  });
  // Hydra's rule for a primary config: without an explicit _self_, its own keys win over the defaults
  if (!out.includes('_self_')) out.push('_self_');
  return out;
}

export function compose(opts: ComposeOptions): Composed {
  const groups = listGroups(opts.configDir);
  // the experiment is chosen first: its defaults list names the packages that other overrides can swap
  let experiment = opts.experiment;
  for (const o of parseOverrides(opts.overrides ?? [], ['experiment'])) if (o.kind === 'group') experiment = o.option;

  let self: Tree = {};
  let defaults: DefaultEntry[] = ['_self_'];
  if (experiment !== undefined) {
    const file = optionFile(opts.configDir, groups, 'experiment', experiment);
    const { defaults: d, ...rest } = readYaml(file);
    self = rest;
    defaults = readDefaults(file, d);
  }
  const packages = defaults.flatMap((d) => (d === '_self_' ? [] : [d.pkg]));
  const ovs: Override[] = parseOverrides(opts.overrides ?? [], [...Object.keys(groups), ...packages]);
  const choices: Record<string, string> = {};
  // choices are keyed by package (where the file lands): `model=base` swaps the option of package model
  for (const d of defaults) if (d !== '_self_') {
    if (d.pkg in choices) throw new ConfigError(`defaults list sets "${d.pkg}" twice`);
    choices[d.pkg] = d.option;
  }
  for (const o of ovs) if (o.kind === 'group' && o.group !== 'experiment') {
    if (!(o.group in groups) && !(o.group in choices)) throw new ConfigError(`unknown config group "${o.group}"; groups: ${Object.keys(groups).sort().join(', ')}`);
    if (!(o.group in choices)) defaults.splice(defaults.indexOf('_self_'), 0, { group: o.group, option: o.option, pkg: o.group });
    choices[o.group] = o.option;
  }
  if (experiment !== undefined) choices.experiment = experiment;

  let cfg: Tree = {};
  for (const d of defaults) {
    if (d === '_self_') { cfg = deepMerge(cfg, self); continue; }
    const file = optionFile(opts.configDir, groups, d.group, choices[d.pkg]);
    const content = readYaml(file);
    if ('defaults' in content) throw new ConfigError(`${file}: only experiment configs may have a defaults list`);
    cfg = deepMerge(cfg, { [d.pkg]: content });
  }
  for (const o of ovs) if (o.kind === 'value') setPath(cfg, o.path, o.value);
  return { config: interpolate(cfg), choices, overrides: ovs.map((o) => o.text) };
}
