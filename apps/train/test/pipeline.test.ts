// The pipeline end to end on a tiny budget: tokenizer -> shards -> pretrain -> SFT -> evaluation
// table; run directories hold the resolved config, metrics, checkpoints and final/ model dirs that
// load back; a killed-and-resumed pretrain continues from its checkpoint.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromPretrained } from '@stellar/nn';
import { builtinCorpus } from '@stellar/data';
import { main } from '../src/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-app-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(args, { out: (s) => { out += s + '\n'; }, err: (s) => { err += s + '\n'; } });
  return { code, out, err };
}

// a small slice of the built-in text keeps the test fast
const text = path.join(tmp, 'text.txt');
fs.writeFileSync(text, builtinCorpus(['moby-dick']).files.slice(0, 12).map((f) => fs.readFileSync(f, 'utf8')).join('\n'));
const tiny = ['model.dim=32', 'model.n_layers=1', 'model.n_heads=2', 'model.n_kv_heads=1', 'model.ffn_dim=48', `data.pretrain=[${text}]`,
  'data.tokenizer_vocab=400', 'data.sft_per_task=40', 'data.val_fraction=0.1', 'eval.samples=14', 'eval.max_new_tokens=6', 'train.tensorboard=false', 'sft_train.tensorboard=false', 'rlhf=none'];

let pretrained = '';

test('pipeline: every stage runs and the report has perplexity, accuracy before/after and samples', async () => {
  const r = await run(['pipeline', `run_dir=${tmp}/runs`, ...tiny, 'train.steps=6', 'train.eval_every=3', 'train.batch_size=4', 'train.seq_len=32',
    'sft_train.steps=4', 'sft_train.batch_size=4', 'sft_train.seq_len=48']);
  if (r.code !== 0) throw new Error(r.err);
  expect(r.out).toMatch(/Validation perplexity after pretraining: \d+\.\d+/);
  expect(r.out).toMatch(/\| held-out task \| before SFT \| after SFT \|/);
  expect(r.out).toMatch(/\| \*\*all\*\* \| \*\*\d+\.\d%\*\* \| \*\*\d+\.\d%\*\* \|/);
  expect(r.out).toMatch(/Sample answers after SFT:/);
  const pre = /pretrain: (\S+)/.exec(r.out)![1], sft = /sft: (\S+)/.exec(r.out)![1];
  pretrained = pre;
  for (const d of [pre, sft]) {
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) expect(fs.existsSync(path.join(d, f))).toBe(true);
    fromPretrained(d).dispose();
    const runDir = path.dirname(d);
    for (const f of ['config.yaml', 'overrides.yaml', 'metrics.jsonl']) expect(fs.existsSync(path.join(runDir, f))).toBe(true);
  }
  expect(fs.readdirSync(path.join(path.dirname(pre), 'checkpoints'))).toContain('step-00000006');
}, 120000);

test('sft with data.sft_pack=true packs conversations into full rows and trains on them', async () => {
  expect(pretrained).not.toBe('');
  const r = await run(['sft', `run_dir=${tmp}/runs`, `init=${pretrained}`, ...tiny, 'data.sft_pack=true', 'train.steps=3', 'train.batch_size=2', 'train.seq_len=160', 'train.eval_every=0']);
  if (r.code !== 0) throw new Error(r.err);
  const m = /sft data: (\d+) conversations .* packed into (\d+) rows \((\d+)% full\)/.exec(r.err);
  expect(m).not.toBeNull();
  expect(Number(m![2])).toBeLessThan(Number(m![1]) / 2);   // short chats: several per 160-token row
  expect(Number(m![3])).toBeGreaterThan(70);
  const dir = /run sft: (\S+)/.exec(r.err)![1];
  const steps = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.step && x.loss !== undefined);
  expect(steps.length).toBeGreaterThan(0);
  for (const x of steps) expect(Number.isFinite(x.loss)).toBe(true);
  fromPretrained(path.join(dir, 'final')).dispose();
}, 60000);
