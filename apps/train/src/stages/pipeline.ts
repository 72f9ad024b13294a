// Stage "pipeline": tokenizer training -> data preparation -> pretraining -> SFT -> (reward ->) RLHF
// (rlhf=ppo|dpo|grpo|none) on the built-in data, each stage starting from the previous one's final/,
// then an evaluation table: validation perplexity, held-out task accuracy before and after SFT and
// after RLHF, KL to the SFT model, reward-model scores and sample answers (also written to report.md
// in the pipeline's run directory). progress.json in that directory records each finished stage, so
// `resume=latest` skips them and resumes the interrupted one from its newest checkpoint. Under mpirun
// pretraining and SFT run data-parallel; rank 0 alone trains the tokenizer, evaluates, runs the RLHF
// stages and writes the report.
import fs from 'node:fs';
import path from 'node:path';
import { fromPretrained } from '@stellar/nn';
import { loadTokenizer, type Tokenizer } from '@stellar/tokenizer';
import { evaluateTasks, type TaskEval } from '../evaluate';
import { newRunDir } from '../run-dir';
import { writeResolvedConfig } from '@stellar/config';
import { SINGLE_PROCESS, listCheckpoints, onMainSync } from '@stellar/train';
import { policyDrift, type PolicyDrift } from '../rl/evaluate-rl';
import { loadRewardModel } from '../rl/reward-model-io';
import type { RunConfig } from '../schema';
import { trainTokenizerStage } from './tokenizer';
import { pretrainStage } from './pretrain';
import { sftStage } from './sft';
import { rewardStage } from './reward';
import { dpoStage } from './dpo';
import { ppoStage } from './ppo';
import { grpoStage } from './grpo';
import type { StageContext } from './common';

function evalAt(dir: string, ctx: StageContext): TaskEval {
  const model = fromPretrained(dir);
  try {
    return evaluateTasks(model, loadTokenizer(dir), { samples: ctx.cfg.eval.samples, maxNewTokens: ctx.cfg.eval.max_new_tokens, seed: ctx.cfg.seed, perTask: ctx.cfg.data.sft_per_task });
  } finally { model.dispose(); }
}

function driftAt(dir: string, sftDir: string, rmDir: string | null, ctx: StageContext): PolicyDrift {
  const policy = fromPretrained(dir), sft = fromPretrained(sftDir), rm = rmDir ? loadRewardModel(rmDir) : null;
  try {
    return policyDrift(policy, sft, loadTokenizer(dir), { samples: ctx.cfg.eval.samples, maxNewTokens: ctx.cfg.eval.max_new_tokens, seed: ctx.cfg.seed, perTask: ctx.cfg.data.sft_per_task, rewardModel: rm });
  } finally { policy.dispose(); sft.dispose(); rm?.dispose(); }
}

export interface RlhfReport { method: string; eval: TaskEval; drift: PolicyDrift; sftDrift: PolicyDrift; rmAccuracy: number | null }

export function reportTable(r: { valLoss: number | null; before: TaskEval; after: TaskEval; rlhf?: RlhfReport | null; minutes: number; dirs: Record<string, string> }): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = ['## Stellar pipeline report', '', `Total time: ${r.minutes.toFixed(1)} min`, ''];
  lines.push(`Validation perplexity after pretraining: ${r.valLoss === null ? 'n/a' : Math.exp(r.valLoss).toFixed(2)} (loss ${r.valLoss?.toFixed(4) ?? 'n/a'})`, '');
  const rl = r.rlhf;
  const m = rl ? rl.method.toUpperCase() : '';
  lines.push(`| held-out task | before SFT | after SFT |${rl ? ` after ${m} |` : ''}`, `|---|---|---|${rl ? '---|' : ''}`);
  for (const task of Object.keys(r.after.byTask).sort()) {
    const b = r.before.byTask[task] ?? { correct: 0, total: 0 }, a = r.after.byTask[task];
    const c = rl ? rl.eval.byTask[task] ?? { correct: 0, total: 0 } : null;
    lines.push(`| ${task} | ${b.correct}/${b.total} | ${a.correct}/${a.total} |${c ? ` ${c.correct}/${c.total} |` : ''}`);
  }
  lines.push(`| **all** | **${pct(r.before.accuracy)}** | **${pct(r.after.accuracy)}** |${rl ? ` **${pct(rl.eval.accuracy)}** |` : ''}`, '');
  if (rl) {
    const score = (d: PolicyDrift) => (d.rmScore === null ? 'n/a' : d.rmScore.toFixed(3));
    lines.push(`RLHF (${rl.method}) on the same held-out prompts:`, '');
    lines.push('| model | task accuracy | mean reward-model score | KL to SFT (nats / token) |', '|---|---|---|---|');
    lines.push(`| SFT | ${pct(r.after.accuracy)} | ${score(rl.sftDrift)} | 0 |`);
    lines.push(`| ${m} | ${pct(rl.eval.accuracy)} | ${score(rl.drift)} | ${rl.drift.klPerToken.toFixed(4)} (${rl.drift.tokens} sampled tokens) |`, '');
    if (rl.rmAccuracy !== null) lines.push(`Reward model held-out pairwise accuracy: ${pct(rl.rmAccuracy)}`, '');
  }
  const show = (title: string, e: TaskEval) => {
    lines.push(title, '');
    for (const s of e.samples) lines.push(`- ${s.correct ? 'ok ' : 'no '} ${JSON.stringify(s.prompt)} -> ${JSON.stringify(s.answer)} (expected ${JSON.stringify(s.reference)})`);
    lines.push('');
  };
  show('Sample answers after SFT:', r.after);
  if (rl) show(`Sample answers after ${m}:`, rl.eval);
  lines.push(...Object.entries(r.dirs).map(([k, v]) => `${k}: ${v}`));
  return lines.join('\n');
}

/** The pipeline's run directory: a new one, or for resume=latest / resume=<dir> the one to continue. */
function pipelineDir(cfg: RunConfig): { dir: string; resumed: boolean } {
  if (!cfg.resume) return { dir: newRunDir(cfg.run_dir, 'pipeline', cfg.name), resumed: false };
  if (cfg.resume !== 'latest') {
    if (!fs.existsSync(path.join(cfg.resume, 'progress.json'))) throw new Error(`resume=${cfg.resume}: not a pipeline run directory (no progress.json)`);
    return { dir: cfg.resume, resumed: true };
  }
  const base = path.join(cfg.run_dir, cfg.name || 'pipeline');
  const runs = fs.existsSync(base) ? fs.readdirSync(base).filter((d) => fs.existsSync(path.join(base, d, 'progress.json'))).sort() : [];
  if (!runs.length) throw new Error(`resume=latest: no pipeline run under ${base}`);
  return { dir: path.join(base, runs[runs.length - 1]), resumed: true };
}

type Progress = Record<string, unknown>;

export async function pipelineStage(ctx: StageContext): Promise<{ report: string; dir: string; stopped?: string }> {
  const t0 = Date.now();
  const { cfg } = ctx;
  const dist = ctx.dist ?? SINGLE_PROCESS;
  const { dir, resumed } = onMainSync(dist, () => {
    const r = pipelineDir(cfg);
    if (!r.resumed) { writeResolvedConfig(r.dir, cfg, ctx.composed); fs.writeFileSync(path.join(r.dir, 'progress.json'), '{}\n'); }
    return r;
  });
  const progressFile = path.join(dir, 'progress.json');
  const progress: Progress = JSON.parse(fs.readFileSync(progressFile, 'utf8'));
  const done = (k: string, v: unknown) => {
    progress[k] = v;
    if (!dist.isMain) return;
    fs.writeFileSync(`${progressFile}.tmp`, JSON.stringify(progress, null, 2) + '\n');
    fs.renameSync(`${progressFile}.tmp`, progressFile);
  };
  const minutesBefore = Number(progress.minutes ?? 0);
  if (resumed) ctx.say(`resuming pipeline ${dir}: done ${Object.keys(progress).filter((k) => k !== 'minutes').join(', ') || 'nothing yet'}`);
  const stagesDir = path.join(dir, 'stages');
  // the interrupted stage continues from its newest checkpoint; a stage never started begins afresh
  const resumeOf = (stage: string) => {
    const base = path.join(stagesDir, stage);
    const any = resumed && fs.existsSync(base) && fs.readdirSync(base).some((d) => listCheckpoints(path.join(base, d, 'checkpoints')).length > 0);
    return any ? 'latest' : '';
  };
  const sub = (stage: string, train: RunConfig['train'], extra: Partial<RunConfig> = {}): StageContext =>
    ({ ...ctx, cfg: { ...cfg, ...extra, train, name: '', resume: resumeOf(stage), run_dir: stagesDir } });
  // the RLHF stages run on rank 0 alone (the other ranks have finished)
  const single = (c: StageContext): StageContext => ({ ...c, dist: SINGLE_PROCESS });
  const stopped = (stage: string, by: string) => {
    done('minutes', minutesBefore + (Date.now() - t0) / 60000);
    ctx.say(`pipeline: ${stage} stopped (${by}); continue with: stellar-train pipeline resume=latest run_dir=${cfg.run_dir}`);
    return { report: '', dir, stopped: stage };
  };

  let tok: Tokenizer;
  if (cfg.tokenizer) tok = loadTokenizer(cfg.tokenizer);
  else if (progress.tokenizer) tok = loadTokenizer(progress.tokenizer as string);
  else { const t = await trainTokenizerStage(sub('tokenizer', cfg.train)); tok = t.tokenizer; done('tokenizer', t.dir); }

  let pre = progress.pretrain as { final: string; valLoss: number | null } | undefined;
  if (!pre) {
    const r = await pretrainStage(sub('pretrain', cfg.train), tok);
    if (!r.final) return stopped('pretrain', r.stoppedBy);
    pre = { final: r.final, valLoss: r.valLoss };
    done('pretrain', pre);
  }
  // the other ranks go on to SFT and wait for rank 0 there
  let before = progress.before as TaskEval | undefined;
  if (!before && dist.isMain) {
    ctx.say('evaluating the pretrained model on held-out tasks ...');
    before = evalAt(pre.final, ctx);
    done('before', before);
  }
  let sft = progress.sft as { final: string } | undefined;
  if (!sft) {
    const r = await sftStage(sub('sft', cfg.sft_train), 'sft', { init: pre.final, tokenizer: tok });
    if (!r.final) return stopped('sft', r.stoppedBy);
    sft = { final: r.final };
    done('sft', sft);
  }
  if (!dist.isMain || !before) return { report: '', dir };
  let after = progress.after as TaskEval | undefined;
  if (!after) {
    ctx.say('evaluating the SFT model on held-out tasks ...');
    after = evalAt(sft.final, ctx);
    done('after', after);
  }
  const dirs: Record<string, string> = { pretrain: pre.final, sft: sft.final };
  let rlhf: RlhfReport | null = null;
  if (cfg.rlhf !== 'none') {
    let rm = progress.reward as { final: string; accuracy: number | null } | undefined;
    const needRm = cfg.rlhf === 'ppo' && cfg.rollout.reward === 'model';
    if (needRm && !rm) {
      const r = await rewardStage(single(sub('reward', cfg.rm_train)), { init: sft.final, tokenizer: tok });
      if (!r.final) return stopped('reward', r.stoppedBy);
      rm = { final: r.final, accuracy: r.accuracy };
      done('reward', rm);
    }
    if (rm) dirs.reward = rm.final;
    let rl = progress[cfg.rlhf] as { final: string } | undefined;
    if (!rl) {
      const c = single(sub(cfg.rlhf, cfg.rl_train, rm ? { rollout: { ...cfg.rollout, reward_model: rm.final } } : {}));
      const r = cfg.rlhf === 'dpo' ? await dpoStage(c, { init: sft.final, tokenizer: tok })
        : cfg.rlhf === 'ppo' ? await ppoStage(c, { init: sft.final, tokenizer: tok }) : await grpoStage(c, { init: sft.final, tokenizer: tok });
      if (!r.final) return stopped(cfg.rlhf, r.stoppedBy);
      rl = { final: r.final };
      done(cfg.rlhf, rl);
    }
    dirs[cfg.rlhf] = rl.final;
    ctx.say(`evaluating the ${cfg.rlhf.toUpperCase()} model on held-out tasks ...`);
    rlhf = {
      method: cfg.rlhf, eval: evalAt(rl.final, ctx), drift: driftAt(rl.final, sft.final, rm?.final ?? null, ctx),
      sftDrift: rm ? driftAt(sft.final, sft.final, rm.final, ctx) : { klPerToken: 0, rmScore: null, tokens: 0 }, rmAccuracy: rm?.accuracy ?? null,
    };
  }
  const minutes = minutesBefore + (Date.now() - t0) / 60000;
  done('minutes', minutes);
  const report = reportTable({ valLoss: pre.valLoss, before, after, rlhf, minutes, dirs });
  fs.writeFileSync(path.join(dir, 'report.md'), report + '\n');
  return { report, dir };
}
