// stellar-train's command line: --help lists stages, groups and keys; --cfg prints the resolved
// config with overrides and group swaps; bad stages, flags, keys and values get clear errors.
import { main } from '../src/cli';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(args, { out: (s) => { out += s + '\n'; }, err: (s) => { err += s + '\n'; } });
  return { code, out, err };
}

test('--help lists the stages, the config groups with their options, and every key', async () => {
  const r = await run(['--help']);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/usage: stellar-train <stage>/);
  for (const s of ['pipeline', 'tokenizer', 'pretrain', 'sft', 'lora', 'distill']) expect(r.out).toMatch(new RegExp(`^  ${s} `, 'm'));
  expect(r.out).toMatch(/model\s+base, small, tiny/);
  expect(r.out).toMatch(/train\.lr \(positive-number, default 0\.001\): peak learning rate/);
  expect((await run([])).code).toBe(2);
});

test('--cfg resolves the experiment, group swaps and typed overrides without running', async () => {
  const r = await run(['pretrain', 'model=small', 'train.lr=3e-4', 'train.steps=5', '--cfg']);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^stage: pretrain$/m);
  expect(r.out).toMatch(/^  dim: 256$/m);
  expect(r.out).toMatch(/^  lr: 0\.0003$/m);
  expect(r.out).toMatch(/^  steps: 5$/m);
  const p = await run(['pipeline', '--cfg']);
  expect(p.out).toMatch(/^sft_train:\n(  .*\n)*  seq_len: 64$/m);
});

test('bad input: unknown stage, flag, key (with the allowed keys) and value (with the key) are refused', async () => {
  expect((await run(['fly'])).err).toMatch(/unknown stage "fly"; stages: pipeline, tokenizer/);
  expect((await run(['pretrain', '--fast'])).err).toMatch(/unknown option --fast/);
  const k = await run(['pretrain', 'train.lrr=1', '--cfg']);
  expect(k.code).toBe(1);
  expect(k.err).toMatch(/config error: unknown config key "train.lrr"; allowed in train: steps, batch_size/);
  expect((await run(['pretrain', 'train.lr=fast', '--cfg'])).err).toMatch(/train\.lr: must be a positive number/);
  expect((await run(['pretrain', 'model=huge', '--cfg'])).err).toMatch(/no config "huge" in group model; available: base, small, tiny/);
  expect((await run(['sft', 'train.steps=1'])).err).toMatch(/sft: set init=<model directory>/);
});
