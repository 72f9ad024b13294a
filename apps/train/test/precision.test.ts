// train.precision: the key is typed (fp32 | bf16) and reaches the Trainer: a tiny pretraining run with
// train.precision=bf16 logs losses close to, but not equal to, the fp32 run's. Runs the CLI in-process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinCorpus } from '@stellar/data';
import { main } from '../src/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-precision-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const io = { out: () => {}, err: () => {} };
let errText = '';
const ioErr = { out: () => {}, err: (s: string) => { errText += s + '\n'; } };

const text = path.join(tmp, 'text.txt');
fs.writeFileSync(text, builtinCorpus(['moby-dick']).files.slice(0, 3).map((f) => fs.readFileSync(f, 'utf8')).join('\n'));

const firstRun = (base: string, stage: string) => path.join(base, stage, fs.readdirSync(path.join(base, stage))[0]);
const losses = (base: string): number[] => fs.readFileSync(path.join(firstRun(base, 'pretrain'), 'metrics.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l)).filter((r) => 'loss' in r && 'step' in r).map((r) => r.loss);

test('train.precision is checked and bf16 runs stay within 0.5 % of fp32', async () => {
  expect(await main(['pretrain', 'train.precision=fp16', '--cfg'], ioErr)).toBe(1);
  expect(errText).toMatch(/train\.precision/);
  expect(await main(['tokenizer', `run_dir=${tmp}/tok`, `data.pretrain=[${text}]`, 'data.tokenizer_vocab=300'], io)).toBe(0);
  const tok = path.join(firstRun(`${tmp}/tok`, 'tokenizer'), 'final');
  const run = (precision: string) => main(['pretrain', `run_dir=${tmp}/${precision}`, `tokenizer=${tok}`, `data.pretrain=[${text}]`, 'model.dim=32', 'model.n_layers=2',
    'model.n_heads=2', 'model.ffn_dim=48', 'train.steps=6', 'train.batch_size=4', 'train.seq_len=32', 'train.eval_every=0', 'train.tensorboard=false',
    `train.precision=${precision}`, 'threads=1'], io);
  expect(await run('fp32')).toBe(0);
  expect(await run('bf16')).toBe(0);
  const a = losses(`${tmp}/fp32`), b = losses(`${tmp}/bf16`);
  expect(a.length).toBe(6);
  expect(b.length).toBe(6);
  const rel = a.map((l, i) => Math.abs(l - b[i]) / l);
  expect(Math.max(...rel)).toBeLessThan(0.005);
  expect(Math.max(...rel)).toBeGreaterThan(0);   // bf16 reached the matmuls
}, 120000);
