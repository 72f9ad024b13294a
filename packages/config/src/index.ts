// @stellar/config: hydra-like composition of YAML config groups, key=value overrides, strict validation.
export * from './errors';
export { readYaml, parseValue, toYaml, isTree, type Tree } from './yaml-io';
export * from './tree';
export * from './interpolate';
export * from './overrides';
export * from './compose';
export * from './validate';
export * from './run-dir';
