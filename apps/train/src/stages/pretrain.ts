// Stage "pretrain": the pretraining text tokenized into shards (in parallel, with a validation split
// by document), packed fixed-length windows in seeded order, and the trainer on the causal-LM loss;
// ends with final/ (model + tokenizer).
import fs from 'node:fs';
import path from 'node:path';
import { StellarForCausalLM } from '@stellar/nn';
import { BatchLoader, PretrainDataset, pretokenize } from '@stellar/data';
import { causalLmLoss, onMain } from '@stellar/train';
import type { Tokenizer } from '@stellar/tokenizer';
import { toModelConfig } from '../model-config';
import { pretrainTexts } from '../texts';
import { initModel, openRun, saveFinal, stageTokenizer, trainStage, type StageContext } from './common';

export interface StageResult { dir: string; final: string | null; stoppedBy: string; valLoss: number | null }

export async function pretrainStage(ctx: StageContext, tokOverride?: Tokenizer): Promise<StageResult> {
  const { cfg } = ctx;
  const run = openRun(ctx, 'pretrain');
  const tok = tokOverride ?? stageTokenizer(cfg);
  const shards = path.join(run.dir, 'data');
  // data preparation is not data-parallel: rank 0 writes the shards while the others wait
  await onMain(run.dist, async () => {
    if (fs.existsSync(path.join(shards, 'manifest.json'))) return;
    const src = pretrainTexts(cfg.data);
    const s = await pretokenize({ texts: src.texts }, tok, shards, { meta: { valFraction: cfg.data.val_fraction } });
    const skipped = src.reports.reduce((n, r) => n + r.count, 0);
    ctx.say(`data: ${s.documents} documents, ${s.tokens} tokens (${s.mbPerSecond.toFixed(1)} MB/s)${skipped ? `\n${src.reports.filter((r) => r.count).map(String).join('\n')}` : ''}`);
  });
  const T = cfg.train.seq_len;
  const train = new PretrainDataset(shards, { seqLen: T, seed: cfg.seed, split: 'train', valFraction: cfg.data.val_fraction });
  const val = () => new BatchLoader(new PretrainDataset(shards, { seqLen: T, seed: cfg.seed, split: 'val', valFraction: cfg.data.val_fraction, shuffle: false }),
    { batchSize: cfg.train.batch_size, prefetch: 0, epochs: 1, dropLast: false });
  const model = cfg.init ? initModel(cfg.init) : new StellarForCausalLM(toModelConfig(cfg.model, tok.vocabSize, tok.padToken ? tok.vocab.get(tok.padToken) ?? null : null), { seed: cfg.seed });
  if (cfg.model.gradient_checkpointing) model.gradientCheckpointingEnable();
  ctx.say(`model: ${(model.numParameters() / 1e6).toFixed(2)}M parameters; ${train.length} windows of ${T} tokens per epoch`);
  const loader = new BatchLoader(train, { batchSize: cfg.train.batch_size, prefetch: 2 });
  try {
    const r = await trainStage({ ctx, run, model, lossFn: causalLmLoss({ labelSmoothing: cfg.train.label_smoothing }), data: loader, evalData: val });
    const final = r.stoppedBy === 'signal' ? null : saveFinal(run, model, tok);
    return { dir: run.dir, final, stoppedBy: r.stoppedBy, valLoss: r.evals.length ? r.evals[r.evals.length - 1].loss : null };
  } finally {
    model.dispose();
  }
}
