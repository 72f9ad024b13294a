// Composition, overrides, interpolation and strict validation of @stellar/config on a small configs/ tree.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compose, validateConfig, describeSchema, writeResolvedConfig, listGroups, readYaml, toYaml, ConfigError } from '../src';

const configDir = path.join(__dirname, 'fixtures', 'configs');

const schema = {
  name: { doc: 'run name', format: String, default: 'run' },
  model: { dim: { format: 'positive-int', default: 64 }, layers: { format: 'positive-int', default: 2 }, heads: { format: 'positive-int', default: 4 } },
  data: { files: { format: 'string-list', default: [] as string[] }, seq_len: { format: 'positive-int', default: 256 } },
  train: {
    lr: { doc: 'peak learning rate', format: 'positive-number', default: 3e-4 },
    steps: { format: 'nat', default: 1000 },
    warmup: { format: 'nat', default: 0 },
    schedule: { format: ['cosine', 'wsd', 'constant'], default: 'cosine' },
  },
};

test('an experiment composes its defaults list; its own keys win; interpolation resolves', () => {
  const c = compose({ configDir, experiment: 'pipeline' });
  expect(c.choices).toEqual({ model: 'tiny', data: 'default', train: 'pretrain', experiment: 'pipeline' });
  expect(c.config).toEqual({ model: { dim: 64, layers: 2, heads: 4 }, data: { files: ['sotu', 'moby-dick'], seq_len: 128 },
    train: { lr: 1e-3, steps: 200, warmup: 10 }, name: 'pipeline-64' });
  // _self_ first: the group file overrides the experiment's own value
  expect(compose({ configDir, experiment: 'self-first' }).config.model).toEqual({ dim: 64, layers: 2, heads: 4 });
});

test('CLI: group swaps, typed value overrides applied last, experiment chosen by override', () => {
  const c = compose({ configDir, overrides: ['experiment=pipeline', 'model=base', 'model.dim=256', 'train.lr=3e-4', 'data.files=[a, b]', 'train.schedule=wsd'] });
  expect(c.choices.model).toBe('base');
  expect(c.config.model).toEqual({ dim: 256, layers: 8, heads: 8 });
  expect(c.config.name).toBe('pipeline-256');   // interpolation sees the overridden value
  expect(c.config.train).toEqual({ lr: 3e-4, steps: 200, warmup: 10, schedule: 'wsd' });
  expect((c.config.data as { files: string[] }).files).toEqual(['a', 'b']);
  // group@package: the same group's option merged under another key (Hydra's package syntax)
  expect(compose({ configDir, experiment: 'packaged' }).config).toEqual({ train: { lr: 1e-3, steps: 100, warmup: 10 }, finetune: { lr: 1e-4, steps: 50 } });
  expect(compose({ configDir, experiment: 'packaged', overrides: ['finetune=pretrain'] }).config.finetune).toEqual({ lr: 1e-3, steps: 100, warmup: 10 });
  // a group that is not in the defaults list can be added from the CLI
  expect(compose({ configDir, overrides: ['train=sft'] }).config).toEqual({ train: { lr: 1e-4, steps: 50 } });
});

test('validation fills defaults and refuses unknown keys (listing the allowed ones) and wrong types (naming the key)', () => {
  const cfg = validateConfig(schema, compose({ configDir, experiment: 'pipeline' }).config);
  expect(cfg.train).toEqual({ lr: 1e-3, steps: 200, warmup: 10, schedule: 'cosine' });
  const bad = (o: string[]) => () => validateConfig(schema, compose({ configDir, experiment: 'pipeline', overrides: o }).config);
  expect(bad(['train.lrr=1'])).toThrow(/unknown config key "train.lrr"; allowed in train: lr, steps, warmup, schedule/);
  expect(bad(['optim=1'])).toThrow(/unknown config key "optim"; allowed: name, model, data, train/);
  expect(bad(['train.lr=fast'])).toThrow(/train\.lr: must be a positive number/);
  expect(bad(['train.schedule=linear'])).toThrow(/train\.schedule: must be one of/);
  expect(bad(['model.dim=0'])).toThrow(/model\.dim: must be an integer > 0/);
  expect(bad(['train=5'])).toThrow(/no config "5" in group train; available: pretrain, sft/);
  expect(bad(['model.dim.x=1'])).toThrow(/"model.dim" is a value, not a group of keys/);
  expect(() => validateConfig(schema, { train: 3 })).toThrow(/"train" is a group of keys \(lr, steps, warmup, schedule\), not a value/);
});

test('bad files and overrides get errors naming the file:line, the group or the argument', () => {
  expect(() => compose({ configDir, experiment: 'broken' })).toThrow(/broken\.yaml:\d+:\d+: Flow sequence/);
  expect(() => compose({ configDir, experiment: 'nope' })).toThrow(/no config "nope" in group experiment; available: broken, packaged, pipeline, self-first/);
  expect(() => compose({ configDir, overrides: ['lr'] })).toThrow(/override "lr" is not key=value/);
  expect(() => compose({ configDir, overrides: ['a..b=1'] })).toThrow(/"a..b" is not a dotted key/);
  expect(() => compose({ configDir, overrides: ['name=${missing.key}'] })).toThrow(/refers to \$\{missing.key\}, which is not set/);
  expect(() => compose({ configDir, overrides: ['a=${b}', 'b=${a}'] })).toThrow(/interpolation cycle/);
  expect(() => compose({ configDir: path.join(configDir, 'nowhere') })).toThrow(/config directory .* not found/);
});

test('the resolved config is written to the run directory and reads back; --help text lists every key', () => {
  const c = compose({ configDir, experiment: 'pipeline', overrides: ['train.lr=0.01'] });
  const cfg = validateConfig(schema, c.config);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-config-'));
  writeResolvedConfig(dir, cfg, c);
  expect(readYaml(path.join(dir, 'config.yaml'))).toEqual(cfg);
  expect(readYaml(path.join(dir, 'overrides.yaml'))).toEqual({ choices: c.choices, overrides: ['train.lr=0.01'] });
  expect(toYaml(cfg)).toContain('lr: 0.01');
  fs.rmSync(dir, { recursive: true });
  expect(listGroups(configDir)).toEqual({ data: ['default'], experiment: ['broken', 'packaged', 'pipeline', 'self-first'], model: ['base', 'tiny'], train: ['pretrain', 'sft'] });
  expect(describeSchema(schema)).toContain('train.lr (positive-number, default 0.0003): peak learning rate');
  expect(() => { throw new ConfigError('x'); }).toThrow(ConfigError);
});
