// Stage "reward": a reward model (the init model's trunk with a fresh scalar score head) trained with
// the Bradley–Terry pairwise loss (optional margin and reward centering) on preference pairs; reports
// pairwise accuracy on held-out pairs before and after, and writes final/ as an HF
// LlamaForSequenceClassification directory plus the tokenizer.
import fs from 'node:fs';
import path from 'node:path';
import { saveTokenizer, type Tokenizer } from '@stellar/tokenizer';
import { PairSource, rewardLoss, scoreRewardPairs } from '@stellar/train';
import { preferencePairs } from '../rl/rl-data';
import { checkRlConfig } from '../rl/rl-config';
import { rewardModelFrom, saveRewardModel } from '../rl/reward-model-io';
import { initModel, openRun, stageTokenizer, trainStage, type StageContext } from './common';

export interface RewardResult { dir: string; final: string | null; stoppedBy: string; accuracyBefore: number | null; accuracy: number | null; heldOut: number }

export async function rewardStage(ctx: StageContext, opts: { init?: string; tokenizer?: Tokenizer } = {}): Promise<RewardResult> {
  const { cfg } = ctx;
  const init = opts.init ?? cfg.init;
  if (!init) throw new Error('reward: set init=<model directory> (e.g. an sft run\'s final/)');
  checkRlConfig(cfg, 'reward', ctx.dist);
  const run = openRun(ctx, 'reward');
  const tok = opts.tokenizer ?? stageTokenizer(cfg, init);
  const pairs = await preferencePairs(cfg, tok, cfg.train.seq_len, ctx.say);
  if (cfg.reward.margin > 0) for (const p of pairs.train) p.margin ??= cfg.reward.margin;
  ctx.say(`reward data: ${pairs.train.length} training pairs, ${pairs.test.length} held out (${pairs.dropped} dropped at ${cfg.train.seq_len} tokens)`);
  const lm = initModel(init);
  const rm = rewardModelFrom(lm, cfg.seed);
  lm.dispose();
  const pad = tok.padToken ? tok.vocab.get(tok.padToken) ?? 0 : 0;
  const heldOut = pairs.test.slice(0, cfg.reward.eval_pairs);
  const accuracy = () => (heldOut.length ? scoreRewardPairs(rm, heldOut, { padTokenId: pad }).accuracy : null);
  try {
    const accuracyBefore = accuracy();
    // train.batch_size counts pairs: each batch holds twice as many rows
    const data = new PairSource(pairs.train, { batchPairs: cfg.train.batch_size, seed: cfg.seed, padTokenId: pad });
    const r = await trainStage({ ctx, run, model: rm, lossFn: rewardLoss({ centerCoef: cfg.reward.center_coef }), data });
    if (r.stoppedBy === 'signal') return { dir: run.dir, final: null, stoppedBy: r.stoppedBy, accuracyBefore, accuracy: null, heldOut: heldOut.length };
    const acc = accuracy();
    if (acc !== null) ctx.say(`reward model: held-out pairwise accuracy ${(100 * accuracyBefore!).toFixed(1)}% -> ${(100 * acc).toFixed(1)}% on ${heldOut.length} pairs`);
    const final = path.join(run.dir, 'final');
    saveRewardModel(rm, final);
    saveTokenizer(tok, final);
    fs.writeFileSync(path.join(run.dir, 'eval.json'), JSON.stringify({ heldOutPairs: heldOut.length, accuracyBefore, accuracy: acc }, null, 2) + '\n');
    return { dir: run.dir, final, stoppedBy: r.stoppedBy, accuracyBefore, accuracy: acc, heldOut: heldOut.length };
  } finally {
    rm.dispose();
  }
}
