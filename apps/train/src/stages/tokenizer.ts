// Stage "tokenizer": a byte-level BPE tokenizer trained on the run's pretraining text (ChatML
// special tokens reserved first), saved in Hugging Face's format under <run>/final/.
import path from 'node:path';
import { saveTokenizer, trainBpe, splitPattern, type Tokenizer } from '@stellar/tokenizer';
import { pretrainTexts } from '../texts';
import { openRun, type StageContext } from './common';

export async function trainTokenizerStage(ctx: StageContext): Promise<{ dir: string; tokenizer: Tokenizer }> {
  const run = openRun(ctx, 'tokenizer');
  const d = ctx.cfg.data;
  const t0 = Date.now();
  const src = pretrainTexts(d);
  const tok = await trainBpe(src.texts, { vocabSize: d.tokenizer_vocab, pattern: splitPattern(d.tokenizer_pattern),
    eosToken: '<|endoftext|>', bosToken: null, padToken: '<|pad|>' });
  const dir = path.join(run.dir, 'final');
  saveTokenizer(tok, dir);
  const skipped = src.reports.reduce((n, r) => n + r.count, 0);
  ctx.say(`tokenizer: vocab ${tok.vocabSize}, ${tok.merges.length} merges in ${((Date.now() - t0) / 1000).toFixed(1)} s${skipped ? `, ${skipped} bad records skipped` : ''} -> ${dir}`);
  return { dir, tokenizer: tok };
}
