// stellar-train: `stellar-train <stage> [group=option] [key=value ...]` runs a stage from configs/
// (pipeline, tokenizer, pretrain, sft, lora, distill, reward, dpo, ppo, grpo); --help lists stages, groups and keys; --cfg
// prints the resolved config without running. Started by `mpirun -np N`, the training stages run
// data-parallel: rank 0 prints and writes files, the other ranks print only their own errors.
import fs from 'node:fs';
import path from 'node:path';
import { compose, listGroups, validateConfig, describeSchema, toYaml, ConfigError } from '@stellar/config';
import { schema, type RunConfig } from './schema';
import { pipelineStage } from './stages/pipeline';
import { trainTokenizerStage } from './stages/tokenizer';
import { pretrainStage } from './stages/pretrain';
import { sftStage } from './stages/sft';
import { distillStage } from './stages/distill';
import { rewardStage } from './stages/reward';
import { dpoStage } from './stages/dpo';
import { ppoStage } from './stages/ppo';
import { grpoStage } from './stages/grpo';
import type { StageContext } from './stages/common';
import { MainRankFailed, SINGLE_PROCESS, skipFinalizeAtExit, type DistributedContext } from '@stellar/train';
import { checkGlobalBatches, launcherRank, startDistributed } from './distributed';

const STAGES: Record<string, string> = {
  pipeline: 'tokenizer -> pretrain -> SFT -> RLHF (rlhf=grpo|ppo|dpo|none) on the built-in data, then an evaluation table (the default job)',
  tokenizer: 'train a byte-level BPE tokenizer on the pretraining text',
  pretrain: 'pretrain a model on token shards of the pretraining text',
  sft: 'supervised fine-tuning on conversations (loss on assistant tokens), from init=<model dir>',
  lora: 'SFT with LoRA adapters on a frozen base, from init=<model dir>',
  distill: 'train a student on distill.teacher=<model dir> soft targets',
  reward: 'reward model (Bradley-Terry) on preference pairs, from init=<SFT model dir>',
  dpo: 'DPO / IPO / conservative DPO on preference pairs, from init=<SFT model dir>',
  ppo: 'RLHF-PPO with a value head, rule or reward-model rewards, from init=<SFT model dir>',
  grpo: 'GRPO: N samples per prompt, group-relative advantages, from init=<SFT model dir>',
};

/** configs/ of the repository (two levels above dist/ or src/), or STELLAR_CONFIGS. */
export function defaultConfigDir(): string {
  if (process.env.STELLAR_CONFIGS) return process.env.STELLAR_CONFIGS;
  for (let d = __dirname; d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'configs', 'experiment'))) return path.join(d, 'configs');
  }
  throw new Error('configs/ not found: run from the repository or set STELLAR_CONFIGS');
}

export function helpText(configDir: string): string {
  const groups = listGroups(configDir);
  return [
    'usage: stellar-train <stage> [group=option ...] [key=value ...] [--cfg] [--help]',
    '',
    'stages:',
    ...Object.entries(STAGES).map(([k, v]) => `  ${k.padEnd(10)} ${v}`),
    '',
    `config groups (${configDir}):`,
    ...Object.entries(groups).map(([g, opts]) => `  ${g.padEnd(10)} ${opts.join(', ')}`),
    '',
    'The stage picks experiment=<stage>; `model=small` swaps a group, `train.lr=3e-4` sets a key.',
    '--cfg prints the resolved config and exits; resume=latest continues the newest run of the stage.',
    '',
    'data parallel: mpirun -np N stellar-train <stage> ... trains pretrain, sft, lora and distill on N ranks.',
    '  train.batch_size is the global batch: each rank takes batch_size / N rows of every micro-batch (it must',
    '  divide); gradients are summed over the ranks, so N ranks follow the 1-process loss curve. Rank 0 picks the',
    '  run directory, prepares data, trains the tokenizer, evaluates and writes every file; the run directory must be',
    '  on a filesystem every rank sees. Threads per rank: max(1, floor(T / L)), T = threads if > 0, else',
    '  STELLAR_NUM_THREADS, else the cores; L = ranks on the machine. Stop: kill -USR1 <mpirun pid> (or Ctrl-C,',
    '  which gives ranks odls_base_sigkill_timeout s: mpirun --mca odls_base_sigkill_timeout 60 ...).',
    '  e.g. mpirun -np 2 --bind-to none stellar-train pretrain model=small train.batch_size=32',
    '',
    'keys:',
    ...describeSchema(schema as never).map((l) => `  ${l}`),
  ].join('\n');
}

/** pipeline rlhf=X without an rl_train=... swap trains the RLHF stage with configs/train/X.yaml. */
function pipelineSwaps(stage: string, rest: string[]): string[] {
  const m = stage === 'pipeline' ? rest.map((a) => /^rlhf=(ppo|dpo|grpo)$/.exec(a)).filter(Boolean).pop() : null;
  return m && !rest.some((a) => a.startsWith('rl_train=')) ? [`rl_train=${m[1]}`, ...rest] : rest;
}

/** Set when this rank failed on its own under MPI: it must exit at once (see the bottom of this file). */
let failedAlone = false;

export async function main(argv: string[], io: { out?: (s: string) => void; err?: (s: string) => void } = {}): Promise<number> {
  const launched = launcherRank();
  // ranks other than 0 print nothing but their own errors
  const quiet = launched !== null && launched.rank !== 0;
  const out = quiet ? () => {} : io.out ?? ((s: string) => process.stdout.write(s + '\n'));
  const err = io.err ?? ((s: string) => process.stderr.write(s + '\n'));
  const rankTag = launched && launched.size > 1 ? ` (rank ${launched.rank} of ${launched.size})` : '';
  let dist: DistributedContext = SINGLE_PROCESS;
  try {
    const configDir = defaultConfigDir();
    if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) { out(helpText(configDir)); return argv.length === 0 ? 2 : 0; }
    const flags = argv.filter((a) => a.startsWith('--'));
    const unknownFlag = flags.find((f) => f !== '--cfg');
    if (unknownFlag) { err(`unknown option ${unknownFlag} (options: --help, --cfg)`); return 2; }
    const [stage, ...rest] = argv.filter((a) => !a.startsWith('--'));
    if (!(stage in STAGES)) { err(`unknown stage "${stage}"; stages: ${Object.keys(STAGES).join(', ')}`); return 2; }
    const composed = compose({ configDir, experiment: stage, overrides: pipelineSwaps(stage, rest) });
    const cfg = validateConfig(schema as never, { ...composed.config, stage }) as RunConfig;
    if (flags.includes('--cfg')) { out(toYaml(cfg).trimEnd()); return 0; }
    dist = startDistributed();
    checkGlobalBatches(cfg, dist);
    const ctx: StageContext = { cfg, composed, say: quiet ? () => {} : err, dist };
    switch (cfg.stage) {
      case 'pipeline': { const r = await pipelineStage(ctx); if (r.stopped) return 130; out(r.report); break; }
      case 'tokenizer': await trainTokenizerStage(ctx); break;
      case 'pretrain': { const r = await pretrainStage(ctx); if (!r.final) return 130; out(`final model: ${r.final}`); break; }
      case 'sft': case 'lora': { const r = await sftStage(ctx, cfg.stage); if (!r.final && r.stoppedBy === 'signal') return 130; out(`final model: ${r.final ?? '(adapter only) ' + path.join(r.dir, 'adapter')}`); break; }
      case 'distill': { const r = await distillStage(ctx); if (!r.final) return 130; out(`final model: ${r.final}`); break; }
      case 'reward': { const r = await rewardStage(ctx); if (!r.final) return 130; out(`final model: ${r.final}`); break; }
      case 'dpo': { const r = await dpoStage(ctx); if (!r.final) return 130; out(`final model: ${r.final}`); break; }
      case 'ppo': { const r = await ppoStage(ctx); if (!r.final) return 130; out(`final model: ${r.final}`); break; }
      case 'grpo': { const r = await grpoStage(ctx); if (!r.final) return 130; out(`final model: ${r.final}`); break; }
    }
    return 0;
  } catch (e) {
    // rank 0 has reported the failure the other ranks were waiting on
    if (e instanceof MainRankFailed) return 1;
    // config errors are the same on every rank: rank 0 reports them
    if (e instanceof ConfigError) { if (!quiet) err(`config error: ${e.message}`); return 1; }
    err(`error${rankTag}: ${(e as Error).message}`);
    if (process.env.STELLAR_DEBUG) err((e as Error).stack ?? '');
    // the other ranks may be blocked in a collective waiting for this one: leave without MPI_Finalize
    // (which would wait for them) so that mpirun ends the job
    if (dist.worldSize > 1) { skipFinalizeAtExit(); failedAlone = true; }
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // a failed rank exits now: a data loader's worker left behind must not keep it (and the job) alive
    if (failedAlone) process.exit(code);
  });
}
