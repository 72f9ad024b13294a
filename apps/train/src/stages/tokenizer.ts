// Stage "tokenizer": a byte-level BPE tokenizer trained on the run's pretraining text (ChatML
// special tokens reserved first), saved in Hugging Face's format under <run>/final/. Not
// data-parallel: under mpirun rank 0 trains it and the other ranks wait, then load its files.
import path from 'node:path';
import { loadTokenizer, saveTokenizer, trainBpe, splitPattern, type Tokenizer } from '@stellar/tokenizer';
import { onMain } from '@stellar/train';
import { pretrainTexts } from '../texts';
import { openRun, type StageContext } from './common';

export async function trainTokenizerStage(ctx: StageContext): Promise<{ dir: string; tokenizer: Tokenizer }> {
  const run = openRun(ctx, 'tokenizer');
  const d = ctx.cfg.data;
  let tok: Tokenizer | null = null;
  const dir = await onMain(run.dist, async () => {
    const t0 = Date.now();
    const src = pretrainTexts(d);
    tok = await trainBpe(src.texts, { vocabSize: d.tokenizer_vocab, pattern: splitPattern(d.tokenizer_pattern),
      eosToken: '<|endoftext|>', bosToken: null, padToken: '<|pad|>' });
    const out = path.join(run.dir, 'final');
    saveTokenizer(tok, out);
    const skipped = src.reports.reduce((n, r) => n + r.count, 0);
    ctx.say(`tokenizer: vocab ${tok.vocabSize}, ${tok.merges.length} merges in ${((Date.now() - t0) / 1000).toFixed(1)} s${skipped ? `, ${skipped} bad records skipped` : ''} -> ${out}`);
    return out;
  });
  return { dir, tokenizer: tok ?? loadTokenizer(dir) };
}
