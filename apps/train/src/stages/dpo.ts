// Stage "dpo": direct preference optimisation of the init model (sigmoid DPO, conservative DPO with
// label smoothing, or IPO). The reference is the init model itself: its response log-probs are
// computed once, before the first update, and stored on the pairs, so no second copy is kept.
// Reports the held-out preference accuracy (implicit reward of chosen > rejected) and writes final/.
import fs from 'node:fs';
import path from 'node:path';
import type { Tokenizer } from '@stellar/tokenizer';
import { PairSource, dpoLoss, precomputeReferenceLogps, scorePairs, type PreferencePair } from '@stellar/train';
import { preferencePairs } from '../rl/rl-data';
import { checkRlConfig } from '../rl/rl-config';
import { initModel, openRun, saveFinal, stageTokenizer, trainStage, type StageContext } from './common';
import type { StageResult } from './pretrain';

export interface DpoResult extends StageResult { accuracy: number | null }

/** Share of pairs whose policy log-ratio to the reference favours the chosen answer (DPO's implicit-reward accuracy). */
function implicitAccuracy(policy: Parameters<typeof scorePairs>[0], pairs: PreferencePair[], pad: number): number {
  const s = scorePairs(policy, pairs, { padTokenId: pad });
  let ok = 0;
  pairs.forEach((p, i) => { if (s.chosen[i] - p.refChosen! > s.rejected[i] - p.refRejected!) ok++; });
  return ok / pairs.length;
}

export async function dpoStage(ctx: StageContext, opts: { init?: string; tokenizer?: Tokenizer } = {}): Promise<DpoResult> {
  const { cfg } = ctx;
  const init = opts.init ?? cfg.init;
  if (!init) throw new Error('dpo: set init=<model directory> (e.g. an sft run\'s final/)');
  checkRlConfig(cfg, 'dpo', ctx.dist);
  const run = openRun(ctx, 'dpo');
  const tok = opts.tokenizer ?? stageTokenizer(cfg, init);
  const pairs = await preferencePairs(cfg, tok, cfg.train.seq_len, ctx.say);
  const heldOut = pairs.test.slice(0, cfg.reward.eval_pairs);
  ctx.say(`dpo data: ${pairs.train.length} training pairs, ${heldOut.length} held out (${pairs.dropped} dropped at ${cfg.train.seq_len} tokens)`);
  const pad = tok.padToken ? tok.vocab.get(tok.padToken) ?? 0 : 0;
  const policy = initModel(init);
  if (cfg.model.gradient_checkpointing) policy.gradientCheckpointingEnable();
  try {
    // the untouched init weights are the reference: one pass now, before any update (or checkpoint load)
    const t0 = Date.now();
    precomputeReferenceLogps(policy, pairs.train, { padTokenId: pad });
    if (heldOut.length) precomputeReferenceLogps(policy, heldOut, { padTokenId: pad });
    ctx.say(`dpo: reference log-probs of ${pairs.train.length + heldOut.length} pairs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const data = new PairSource(pairs.train, { batchPairs: cfg.train.batch_size, seed: cfg.seed, padTokenId: pad });
    const r = await trainStage({ ctx, run, model: policy, data,
      lossFn: dpoLoss({ beta: cfg.dpo.beta, lossType: cfg.dpo.loss, labelSmoothing: cfg.dpo.label_smoothing }) });
    if (r.stoppedBy === 'signal') return { dir: run.dir, final: null, stoppedBy: r.stoppedBy, valLoss: null, accuracy: null };
    const accuracy = heldOut.length ? implicitAccuracy(policy, heldOut, pad) : null;
    if (accuracy !== null) ctx.say(`dpo: held-out preference accuracy (implicit reward chosen > rejected) ${(100 * accuracy).toFixed(1)}% on ${heldOut.length} pairs`);
    fs.writeFileSync(path.join(run.dir, 'eval.json'), JSON.stringify({ heldOutPairs: heldOut.length, accuracy }, null, 2) + '\n');
    const final = saveFinal(run, policy, tok);
    return { dir: run.dir, final, stoppedBy: r.stoppedBy, valLoss: null, accuracy };
  } finally {
    policy.dispose();
  }
}
