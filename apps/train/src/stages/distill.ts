// Stage "distill": a fresh student (the `model` group) trained on a teacher checkpoint's softened
// next-token distributions mixed with the LM loss, over the pretraining text in the teacher's tokenization.
import fs from 'node:fs';
import path from 'node:path';
import { StellarForCausalLM } from '@stellar/nn';
import { BatchLoader, PretrainDataset, pretokenize } from '@stellar/data';
import { distillLoss, onMain } from '@stellar/train';
import { toModelConfig } from '../model-config';
import { pretrainTexts } from '../texts';
import { initModel, openRun, saveFinal, stageTokenizer, trainStage, type StageContext } from './common';
import type { StageResult } from './pretrain';

export async function distillStage(ctx: StageContext): Promise<StageResult> {
  const { cfg } = ctx;
  if (!cfg.distill.teacher) throw new Error('distill: set distill.teacher=<model directory>');
  const run = openRun(ctx, 'distill');
  const teacher = initModel(cfg.distill.teacher);
  const tok = stageTokenizer(cfg, cfg.distill.teacher);
  const shards = path.join(run.dir, 'data');
  // rank 0 writes the shards while the other ranks wait
  await onMain(run.dist, async () => {
    if (!fs.existsSync(path.join(shards, 'manifest.json'))) await pretokenize({ texts: pretrainTexts(cfg.data).texts }, tok, shards, { meta: { valFraction: cfg.data.val_fraction } });
  });
  const T = cfg.train.seq_len;
  const train = new PretrainDataset(shards, { seqLen: T, seed: cfg.seed, split: 'train', valFraction: cfg.data.val_fraction });
  const student = new StellarForCausalLM(toModelConfig(cfg.model, teacher.config.vocabSize, teacher.config.padTokenId), { seed: cfg.seed });
  ctx.say(`distill: teacher ${(teacher.numParameters() / 1e6).toFixed(2)}M -> student ${(student.numParameters() / 1e6).toFixed(2)}M parameters`);
  try {
    const r = await trainStage({ ctx, run, model: student, data: new BatchLoader(train, { batchSize: cfg.train.batch_size, prefetch: 2 }),
      lossFn: distillLoss({ teacher, temperature: cfg.distill.temperature, alpha: cfg.distill.alpha }) });
    const final = r.stoppedBy === 'signal' ? null : saveFinal(run, student, tok);
    return { dir: run.dir, final, stoppedBy: r.stoppedBy, valLoss: null };
  } finally {
    student.dispose(); teacher.dispose();
  }
}
