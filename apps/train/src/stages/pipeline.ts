// Stage "pipeline": tokenizer training -> data preparation -> pretraining -> SFT on the built-in data,
// then an evaluation table: validation perplexity, held-out task accuracy before and after SFT,
// and sample answers (also written to report.md in the pipeline's run directory). Under mpirun the
// training stages run data-parallel; rank 0 alone trains the tokenizer, evaluates and writes the report.
import fs from 'node:fs';
import path from 'node:path';
import { fromPretrained } from '@stellar/nn';
import { loadTokenizer } from '@stellar/tokenizer';
import { evaluateTasks, type TaskEval } from '../evaluate';
import { newRunDir } from '../run-dir';
import { writeResolvedConfig } from '@stellar/config';
import { SINGLE_PROCESS, onMainSync } from '@stellar/train';
import { trainTokenizerStage } from './tokenizer';
import { pretrainStage } from './pretrain';
import { sftStage } from './sft';
import type { StageContext } from './common';

function evalAt(dir: string, ctx: StageContext): TaskEval {
  const model = fromPretrained(dir);
  try {
    return evaluateTasks(model, loadTokenizer(dir), { samples: ctx.cfg.eval.samples, maxNewTokens: ctx.cfg.eval.max_new_tokens, seed: ctx.cfg.seed, perTask: ctx.cfg.data.sft_per_task });
  } finally { model.dispose(); }
}

export function reportTable(r: { valLoss: number | null; before: TaskEval; after: TaskEval; minutes: number; dirs: Record<string, string> }): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = ['## Stellar pipeline report', '', `Total time: ${r.minutes.toFixed(1)} min`, ''];
  lines.push(`Validation perplexity after pretraining: ${r.valLoss === null ? 'n/a' : Math.exp(r.valLoss).toFixed(2)} (loss ${r.valLoss?.toFixed(4) ?? 'n/a'})`, '');
  lines.push('| held-out task | before SFT | after SFT |', '|---|---|---|');
  for (const task of Object.keys(r.after.byTask).sort()) {
    const b = r.before.byTask[task] ?? { correct: 0, total: 0 }, a = r.after.byTask[task];
    lines.push(`| ${task} | ${b.correct}/${b.total} | ${a.correct}/${a.total} |`);
  }
  lines.push(`| **all** | **${pct(r.before.accuracy)}** | **${pct(r.after.accuracy)}** |`, '', 'Sample answers after SFT:', '');
  for (const s of r.after.samples) lines.push(`- ${s.correct ? 'ok ' : 'no '} ${JSON.stringify(s.prompt)} -> ${JSON.stringify(s.answer)} (expected ${JSON.stringify(s.reference)})`);
  lines.push('', ...Object.entries(r.dirs).map(([k, v]) => `${k}: ${v}`));
  return lines.join('\n');
}

export async function pipelineStage(ctx: StageContext): Promise<{ report: string; dir: string }> {
  const t0 = Date.now();
  const { cfg } = ctx;
  const dist = ctx.dist ?? SINGLE_PROCESS;
  const dir = onMainSync(dist, () => {
    const d = newRunDir(cfg.run_dir, 'pipeline', '');
    writeResolvedConfig(d, cfg, ctx.composed);
    return d;
  });
  const sub = { ...ctx, cfg: { ...cfg, resume: '', run_dir: path.join(dir, 'stages') } };
  const tok = cfg.tokenizer ? loadTokenizer(cfg.tokenizer) : (await trainTokenizerStage(sub)).tokenizer;
  const pre = await pretrainStage(sub, tok);
  if (!pre.final) throw new Error(`pipeline: pretraining stopped (${pre.stoppedBy}); resume it with: stellar-train pretrain resume=${pre.dir}`);
  ctx.say('evaluating the pretrained model on held-out tasks ...');
  // the other ranks go on to SFT and wait for rank 0 there
  const before = dist.isMain ? evalAt(pre.final, ctx) : null;
  const sft = await sftStage({ ...sub, cfg: { ...sub.cfg, train: cfg.sft_train } }, 'sft', { init: pre.final, tokenizer: tok });
  if (!sft.final) throw new Error(`pipeline: SFT stopped (${sft.stoppedBy})`);
  if (!dist.isMain || !before) return { report: '', dir };
  ctx.say('evaluating the SFT model on held-out tasks ...');
  const after = evalAt(sft.final, ctx);
  const report = reportTable({ valLoss: pre.valLoss, before, after, minutes: (Date.now() - t0) / 60000, dirs: { pretrain: pre.final, sft: sft.final } });
  fs.writeFileSync(path.join(dir, 'report.md'), report + '\n');
  return { report, dir };
}
