// The RLHF stages end to end on a tiny model: a toy SFT model answers "yes" or "no" about half the
// time each; reward, dpo, ppo and grpo then run from it with "yes" as the rewarded / preferred answer
// and must move the policy (or score) that way on prompts they never saw. A killed ppo run resumed
// with resume=latest repeats the uninterrupted per-iteration metrics exactly; Ctrl-C saves and exits
// 130; bad RLHF values name their key; the pipeline with rlhf=dpo prints the extended table.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fromPretrained } from '@stellar/nn';
import { builtinCorpus, encodePreference } from '@stellar/data';
import { loadTokenizer } from '@stellar/tokenizer';
import { scorePairs, scoreRewardPairs, type PreferencePair } from '@stellar/train';
import { main } from '../src/cli';
import { loadRewardModel } from '../src/rl/reward-model-io';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-rlhf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
const built = fs.existsSync(cli);

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(args, { out: (s) => { out += s + '\n'; }, err: (s) => { err += s + '\n'; } });
  return { code, out, err };
}
async function ok(args: string[]): Promise<{ out: string; err: string }> {
  const r = await run(args);
  if (r.code !== 0) throw new Error(`${args[0]} exited ${r.code}:\n${r.err}`);
  return r;
}
const finalOf = (out: string) => /final model: (\S+)/.exec(out)![1];
const metrics = (runDir: string) => fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => 'reward' in r);
const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;

// toy data: the SFT model learns to answer yes or no; held-out prompts differ from every training prompt
const words = ['apple', 'river', 'stone', 'cloud', 'green', 'music', 'paper', 'light', 'table', 'ocean', 'tiger', 'bread', 'chair', 'dream', 'earth', 'flame', 'glass', 'honey', 'ivory', 'jewel'];
const jsonl = (f: string, rows: unknown[]) => { fs.writeFileSync(path.join(tmp, f), rows.map((r) => JSON.stringify(r)).join('\n') + '\n'); return path.join(tmp, f); };
const sftData = jsonl('sft.jsonl', Array.from({ length: 200 }, (_, i) => ({ messages: [{ role: 'user', content: `Is ${words[i % 20]} ${i % 7} fine? Answer yes or no.` }, { role: 'assistant', content: i % 2 ? 'yes' : 'no' }] })));
const ask = (i: number) => `Tell me about ${words[i % 20]} ${i}. Answer yes or no.`;
const prefs = jsonl('prefs.jsonl', Array.from({ length: 100 }, (_, i) => ({ prompt: ask(i), chosen: 'yes', rejected: 'no' })));
const prompts = jsonl('prompts.jsonl', Array.from({ length: 100 }, (_, i) => ({ prompt: ask(i), reference: 'yes' })));
const heldOut = Array.from({ length: 20 }, (_, i) => ({ prompt: ask(1000 + i), chosen: 'yes', rejected: 'no' }));

const text = path.join(tmp, 'text.txt');
fs.writeFileSync(text, builtinCorpus(['moby-dick']).files.slice(0, 12).map((f) => fs.readFileSync(f, 'utf8')).join('\n'));
const tinyModel = ['model.dim=32', 'model.n_layers=1', 'model.n_heads=2', 'model.n_kv_heads=1', 'model.ffn_dim=48'];
const tiny = [...tinyModel, `data.pretrain=[${text}]`, 'data.tokenizer_vocab=400', 'data.sft_per_task=40', 'data.rl_per_task=30', 'data.val_fraction=0.1',
  'eval.samples=14', 'eval.max_new_tokens=6', 'train.tensorboard=false', 'sft_train.tensorboard=false', 'rm_train.tensorboard=false', 'rl_train.tensorboard=false', 'threads=1'];
const common = [`run_dir=${tmp}/runs`, 'train.tensorboard=false', 'threads=1', 'seed=1', 'rollout.temperature=1'];

let sft = '';
beforeAll(async () => {
  const p = await ok(['pipeline', `run_dir=${tmp}/base`, ...tiny, 'rlhf=none', 'train.steps=6', 'train.eval_every=0', 'train.batch_size=4', 'train.seq_len=32',
    'sft_train.steps=2', 'sft_train.batch_size=4', 'sft_train.seq_len=48']);
  const pre = /pretrain: (\S+)/.exec(p.out)![1];
  const s = await ok(['sft', `init=${pre}`, ...common, `data.sft=[${sftData}]`, 'train.steps=200', 'train.lr=1e-2', 'train.batch_size=8', 'train.seq_len=48',
    'train.eval_every=0', 'train.warmup_steps=5']);
  sft = finalOf(s.out);
}, 120000);

/** Encoded held-out (prompt, yes, no) pairs in the SFT model's tokenization. */
function heldOutPairs(): PreferencePair[] {
  const tok = loadTokenizer(sft);
  return heldOut.map((r) => encodePreference(tok, r, 64)!).map((e) => ({ chosen: e.chosen, rejected: e.rejected }));
}
/** Mean log-prob margin log p(yes) - log p(no) of a policy on the held-out prompts. */
function yesMargin(dir: string): number {
  const m = fromPretrained(dir);
  try { const s = scorePairs(m, heldOutPairs()); return mean(Array.from(s.chosen, (c, i) => c - s.rejected[i])); } finally { m.dispose(); }
}

test('reward: the BT-trained reward model prefers "yes" on unseen prompts and final/ is an HF sequence-classification directory', async () => {
  const r = await ok(['reward', `init=${sft}`, ...common, `data.preferences=[${prefs}]`, 'train.steps=30', 'train.batch_size=4', 'train.lr=3e-3', 'train.seq_len=64']);
  expect(r.err).toMatch(/reward data: 100 training pairs, 0 held out/);
  const dir = finalOf(r.out);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  expect(cfg.architectures).toEqual(['LlamaForSequenceClassification']);
  expect(cfg.id2label).toEqual({ 0: 'LABEL_0' });
  for (const f of ['model.safetensors', 'tokenizer.json']) expect(fs.existsSync(path.join(dir, f))).toBe(true);
  const rm = loadRewardModel(dir);
  try { expect(scoreRewardPairs(rm, heldOutPairs()).accuracy).toBeGreaterThanOrEqual(0.9); } finally { rm.dispose(); }
}, 60000);

test('dpo: the policy\'s log-prob margin of "yes" over "no" grows on unseen prompts; chosen/rejected rewards are logged', async () => {
  const r = await ok(['dpo', `init=${sft}`, ...common, `data.preferences=[${prefs}]`, 'train.steps=20', 'train.batch_size=4', 'train.lr=1e-3', 'train.seq_len=64', 'dpo.beta=0.1']);
  const dir = finalOf(r.out);
  const rows = fs.readFileSync(path.join(path.dirname(dir), 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => 'rewards/margins' in x);
  expect(rows.length).toBe(20);
  for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies']) expect(Number.isFinite(rows[19][k])).toBe(true);
  expect(yesMargin(dir) - yesMargin(sft)).toBeGreaterThan(1);
}, 60000);

test('grpo: the rule reward (answer == reference "yes") rises over the iterations and the final policy prefers "yes"', async () => {
  const r = await ok(['grpo', `init=${sft}`, ...common, `data.prompts=[${prompts}]`, 'train.steps=14', 'train.batch_size=4', 'train.lr=3e-3', 'rollout.max_new_tokens=4', 'grpo.num_generations=4', 'grpo.minibatches=1']);
  const dir = finalOf(r.out);
  const m = metrics(path.dirname(dir));
  expect(m.length).toBe(14);
  // iteration 1 samples from the SFT policy itself (about a quarter to a half "yes")
  expect(mean(m.slice(-5).map((x) => x.reward)) - m[0].reward).toBeGreaterThan(0.3);
  expect(yesMargin(dir)).toBeGreaterThan(yesMargin(sft) + 1);
}, 60000);

const ppoArgs = (extra: string[] = []) => ['ppo', `init=${sft}`, ...common, `data.prompts=[${prompts}]`, 'train.batch_size=8', 'train.lr=3e-4', 'rollout.max_new_tokens=4', ...extra];

test('ppo: the rule reward rises; reward, KL, entropy, clip fraction, value loss and explained variance are logged per iteration', async () => {
  const r = await ok(ppoArgs(['train.steps=16']));
  const dir = finalOf(r.out);
  const m = metrics(path.dirname(dir));
  expect(m.length).toBe(16);
  for (const k of ['kl', 'entropy', 'clip_frac', 'value_loss', 'explained_variance', 'rollout_tokens_per_s', 'optim_tokens_per_s']) expect(Number.isFinite(m[15][k])).toBe(true);
  expect(mean(m.slice(-5).map((x) => x.reward)) - m[0].reward).toBeGreaterThan(0.3);
  expect(yesMargin(dir)).toBeGreaterThan(yesMargin(sft));
}, 60000);

test('bad RLHF values are refused with the key named', async () => {
  const err = async (args: string[]) => (await run([...args, `init=${sft}`, ...common])).err;
  expect(await err(['grpo', 'grpo.num_generations=1'])).toMatch(/grpo\.num_generations: must be >= 2/);
  expect(await err(['ppo', 'train.batch_size=4', 'ppo.minibatches=3'])).toMatch(/ppo\.minibatches: 3 does not divide train\.batch_size 4/);
  expect(await err(['ppo', 'rollout.reward=model'])).toMatch(/rollout\.reward_model: set it/);
  expect(await err(['ppo', 'ppo.kl_estimator=k9'])).toMatch(/ppo\.kl_estimator/);
  expect(await err(['ppo', 'ppo.gamma=1.5'])).toMatch(/ppo\.gamma: must be in \[0, 1\]/);
  expect(await err(['dpo', 'dpo.label_smoothing=0.6'])).toMatch(/dpo\.label_smoothing: must be < 0\.5/);
  expect(await err(['dpo', 'dpo.loss=hinge'])).toMatch(/dpo\.loss/);
  expect((await run(['pipeline', 'rlhf=rlaif', '--cfg'])).err).toMatch(/rlhf/);
});

const cliPpo = (runBase: string, extra: string[]) => [cli, ...ppoArgs(['train.steps=8', 'train.save_every=2', 'train.keep_last=2', ...extra]).map((a) => (a.startsWith('run_dir=') ? `run_dir=${runBase}` : a))];
const DETERMINISTIC = ['step', 'loss', 'reward', 'kl', 'kl_coef', 'entropy', 'clip_frac', 'approx_kl', 'value_loss', 'explained_variance', 'response_length'];
const curve = (runBase: string) => {
  const base = path.join(runBase, 'ppo');
  return metrics(path.join(base, fs.readdirSync(base)[0])).map((r) => DETERMINISTIC.map((k) => r[k]));
};

(built ? test : test.skip)(`${built ? '' : 'SKIPPED: apps/train/dist/cli.js not built — '}ppo: kill -9 mid-run, resume=latest reproduces the uninterrupted per-iteration metrics exactly`, async () => {
  const full = spawnSync('node', cliPpo(`${tmp}/full`, []), { encoding: 'utf8' });
  expect(full.status).toBe(0);
  const child = spawn('node', cliPpo(`${tmp}/killed`, []), { stdio: 'ignore' });
  const ckpt = () => {
    const base = path.join(tmp, 'killed', 'ppo');
    const d = fs.existsSync(base) ? fs.readdirSync(base)[0] : undefined;
    return !!d && fs.existsSync(path.join(base, d, 'checkpoints', 'step-00000004', 'trainer_state.json'));
  };
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => { if (ckpt()) { clearInterval(t); child.kill('SIGKILL'); resolve(); } }, 2);
    child.on('exit', () => { clearInterval(t); ckpt() ? resolve() : reject(new Error('the run ended before the checkpoint at step 4')); });
  });
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.on('exit', r)));
  const resumed = spawnSync('node', cliPpo(`${tmp}/killed`, ['resume=latest']), { encoding: 'utf8' });
  expect(resumed.stderr).toMatch(/resumed from .*step-0000000\d at step \d/);
  expect(resumed.status).toBe(0);
  const a = curve(`${tmp}/full`), b = curve(`${tmp}/killed`);
  expect(a.length).toBe(8);
  expect(b).toEqual(a);
}, 120000);

(built ? test : test.skip)(`${built ? '' : 'SKIPPED: apps/train/dist/cli.js not built — '}ppo: Ctrl-C finishes the iteration, saves a checkpoint and exits 130 without final/`, async () => {
  const child = spawn('node', cliPpo(`${tmp}/sigint`, ['train.steps=100000', 'train.save_every=0', 'train.log_every=1']), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '', sent = false;
  child.stderr.on('data', (d) => { err += d; if (/step 2\/100000 reward/.test(err) && !sent) { sent = true; child.kill('SIGINT'); } });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  expect(err).toMatch(/SIGINT: finishing this step, saving a checkpoint/);
  expect(code).toBe(130);
  const runDir = path.join(tmp, 'sigint', 'ppo', fs.readdirSync(path.join(tmp, 'sigint', 'ppo'))[0]);
  const ckpts = fs.readdirSync(path.join(runDir, 'checkpoints')).filter((d) => d.startsWith('step-'));
  expect(ckpts.length).toBe(1);
  expect(fs.existsSync(path.join(runDir, 'final'))).toBe(false);
  const state = JSON.parse(fs.readFileSync(path.join(runDir, 'checkpoints', ckpts[0], 'trainer_state.json'), 'utf8'));
  expect(state.stoppedBy).toBe('signal');
  expect(state.step).toBeGreaterThanOrEqual(2);
}, 60000);

const pipeArgs = ['pipeline', `run_dir=${tmp}/base`, ...tiny, 'rl_train.batch_size=4', 'rl_train.seq_len=64', 'reward.eval_pairs=8'];

test('pipeline resume=latest rlhf=dpo: finished stages are skipped; the report adds the DPO column, KL to SFT and sample answers after DPO', async () => {
  const r = await ok([...pipeArgs, 'resume=latest', 'rlhf=dpo', 'rl_train.steps=3']);
  expect(r.err).toMatch(/resuming pipeline .*: done tokenizer, pretrain, before, sft, after/);
  expect(fs.readdirSync(path.join(tmp, 'base', 'pipeline'))).toHaveLength(1);
  const stages = path.join(tmp, 'base', 'pipeline', fs.readdirSync(path.join(tmp, 'base', 'pipeline'))[0], 'stages');
  expect(fs.readdirSync(path.join(stages, 'pretrain'))).toHaveLength(1);
  expect(r.out).toMatch(/\| held-out task \| before SFT \| after SFT \| after DPO \|/);
  expect(r.out).toMatch(/\| \*\*all\*\* \| \*\*\d+\.\d%\*\* \| \*\*\d+\.\d%\*\* \| \*\*\d+\.\d%\*\* \|/);
  expect(r.out).toMatch(/\| DPO \| \d+\.\d% \| n\/a \| \d+\.\d{4} \(\d+ sampled tokens\) \|/);
  expect(r.out).toMatch(/Sample answers after DPO:/);
  fromPretrained(/dpo: (\S+)/.exec(r.out)![1]).dispose();
  expect(fs.readFileSync(path.join(path.dirname(stages), 'report.md'), 'utf8')).toMatch(/after DPO/);
}, 120000);

(built ? test : test.skip)(`${built ? '' : 'SKIPPED: apps/train/dist/cli.js not built — '}pipeline: Ctrl-C during grpo exits 130; resume=latest continues grpo from its checkpoint and finishes the report`, async () => {
  const args = [cli, ...pipeArgs, 'resume=latest', 'rlhf=grpo', 'rl_train.log_every=1', 'rl_train.save_every=0', 'rollout.max_new_tokens=4'];
  const child = spawn('node', [...args, 'rl_train.steps=100000'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '', sent = false;
  child.stderr.on('data', (d) => { err += d; if (/step 2\/100000 reward/.test(err) && !sent) { sent = true; child.kill('SIGINT'); } });
  expect(await new Promise<number | null>((r) => child.on('exit', (c) => r(c)))).toBe(130);
  expect(err).toMatch(/pipeline: grpo stopped \(signal\); continue with: stellar-train pipeline resume=latest/);
  const at = Number(/stopped \(SIGINT\) at step (\d+)/.exec(err)![1]);
  const r = spawnSync('node', [...args, `rl_train.steps=${at + 2}`], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stderr).toMatch(new RegExp(`resumed from .*step-0*${at} at step ${at}`));
  expect(r.stderr).toMatch(new RegExp(`finished at step ${at + 2}`));
  expect(r.stdout).toMatch(/\| held-out task \| before SFT \| after SFT \| after GRPO \|/);
}, 120000);
