// kill -9 in the middle of a pretraining run, then `resume=latest`: the loss curve in metrics.jsonl
// equals an uninterrupted run's, step for step. Runs the built CLI (dist/) in child processes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { builtinCorpus } from '@stellar/data';

const cli = path.join(__dirname, '..', 'dist', 'cli.js');
const built = fs.existsSync(cli);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-resume-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const text = path.join(tmp, 'text.txt');
fs.writeFileSync(text, builtinCorpus(['moby-dick']).files.slice(0, 6).map((f) => fs.readFileSync(f, 'utf8')).join('\n'));

function args(runDir: string, tok: string): string[] {
  return [cli, 'pretrain', `run_dir=${runDir}`, `tokenizer=${tok}`, `data.pretrain=[${text}]`, 'model.dim=32', 'model.n_layers=2', 'model.n_heads=2', 'model.ffn_dim=48',
    'model.hidden_dropout=0.1', 'train.steps=16', 'train.save_every=2', 'train.keep_last=2', 'train.batch_size=4', 'train.seq_len=32', 'train.eval_every=0', 'train.tensorboard=false', 'threads=1'];
}
const losses = (runBase: string) => {
  const dir = path.join(runBase, 'pretrain', fs.readdirSync(path.join(runBase, 'pretrain'))[0]);
  return fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => 'loss' in r).map((r) => [r.step, r.loss]);
};

(built ? test : test.skip)(`${built ? '' : 'SKIPPED: apps/train/dist/cli.js not built (pnpm build) — '}kill -9 mid-run, resume=latest reproduces the uninterrupted loss curve exactly`, async () => {
  const tok = spawnSync('node', [cli, 'tokenizer', `run_dir=${tmp}/tok`, `data.pretrain=[${text}]`, 'data.tokenizer_vocab=300'], { encoding: 'utf8' });
  expect(tok.status).toBe(0);
  const tokDir = path.join(tmp, 'tok', 'tokenizer', fs.readdirSync(path.join(tmp, 'tok', 'tokenizer'))[0], 'final');
  const full = spawnSync('node', args(`${tmp}/full`, tokDir), { encoding: 'utf8' });
  expect(full.status).toBe(0);

  const child = spawn('node', args(`${tmp}/killed`, tokDir), { stdio: 'ignore' });
  const ckpt = () => {
    const base = path.join(tmp, 'killed', 'pretrain');
    if (!fs.existsSync(base)) return false;
    const run = fs.readdirSync(base)[0];
    return !!run && fs.existsSync(path.join(base, run, 'checkpoints', 'step-00000006'));
  };
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => { if (ckpt()) { clearInterval(t); child.kill('SIGKILL'); resolve(); } }, 5);
    child.on('exit', () => { clearInterval(t); ckpt() ? resolve() : reject(new Error('the run ended before the checkpoint at step 6')); });
  });
  await new Promise((r) => child.on('exit', r));
  const resumed = spawnSync('node', args(`${tmp}/killed`, tokDir).concat('resume=latest'), { encoding: 'utf8' });
  expect(resumed.stderr).toMatch(/resumed from .*step-000000\d\d at step \d+/);
  expect(resumed.status).toBe(0);
  const a = losses(`${tmp}/full`), b = losses(`${tmp}/killed`);
  expect(a.length).toBe(16);
  expect(b).toEqual(a);
}, 180000);

(built ? test : test.skip)(`${built ? '' : 'SKIPPED: apps/train/dist/cli.js not built (pnpm build) — '}Ctrl-C (SIGINT) finishes the step, saves a checkpoint and exits with 130 without writing final/`, async () => {
  const tokBase = path.join(tmp, 'tok', 'tokenizer');
  const tokDir = path.join(tokBase, fs.readdirSync(tokBase)[0], 'final');
  const runBase = `${tmp}/sigint`;
  const child = spawn('node', args(runBase, tokDir).map((a) => (a === 'train.save_every=2' ? 'train.save_every=0' : a)).concat('train.steps=100000'), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let sent = false;   // one Ctrl-C only: a second one exits without saving
  child.stderr.on('data', (d) => { err += d; if (/step \d+\/100000/.test(err) && !sent) { sent = true; setTimeout(() => child.kill('SIGINT'), 500); } });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  expect(err).toMatch(/SIGINT: finishing this step, saving a checkpoint/);
  expect(code).toBe(130);
  const run = path.join(runBase, 'pretrain', fs.readdirSync(path.join(runBase, 'pretrain'))[0]);
  const ckpts = fs.readdirSync(path.join(run, 'checkpoints')).filter((d) => d.startsWith('step-'));
  expect(ckpts.length).toBe(1);
  expect(fs.existsSync(path.join(run, 'final'))).toBe(false);
  const state = JSON.parse(fs.readFileSync(path.join(run, 'checkpoints', ckpts[0], 'trainer_state.json'), 'utf8'));
  expect(state.stoppedBy).toBe('signal');
  expect(state.step).toBeLessThan(100000);
  expect(state.step).toBeGreaterThan(1);
}, 120000);
