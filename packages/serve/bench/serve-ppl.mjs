// Perplexity row of serve.bench.mjs: fp32 vs INT8 (quantizeModel) perplexity on held-out built-in text.
// Uses the newest runs/**/final model directory with a tokenizer when one exists; otherwise trains a
// tiny model here in under a minute (BPE 1024 on Moby-Dick chapters 1-120, AdamW, 256-token windows) and
// evaluates on chapters 121-135 + epilogue, which it never saw. Prints one JSON line. Not a bench itself.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '@stellar/tensor';
import { StellarForCausalLM, makeConfig, fromPretrained, quantizeModel, dequantizeModel } from '@stellar/nn';
import { trainBpe, loadTokenizer } from '@stellar/tokenizer';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const { builtinCorpus } = await import(path.join(root, 'packages/data/dist/index.mjs'));
const { AdamW } = await import(path.join(root, 'packages/train/dist/index.mjs'));
const SEQ = 256;
const TRAIN_SECONDS = Number(process.env.STELLAR_BENCH_PPL_SECONDS ?? 45);

/** The newest runs/<stage>/<time>/final directory holding config.json and tokenizer.json, or null. */
function findFinal() {
  const runs = path.join(root, 'runs');
  if (!fs.existsSync(runs)) return null;
  const found = [];
  const walk = (d, depth) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = path.join(d, e.name);
      if (e.name === 'final' && fs.existsSync(path.join(p, 'config.json')) && fs.existsSync(path.join(p, 'tokenizer.json'))) found.push(p);
      else if (depth < 3) walk(p, depth + 1);
    }
  };
  walk(runs, 0);
  found.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return found[0] ?? null;
}

const chapters = builtinCorpus(['moby-dick']).files.map((f) => fs.readFileSync(f, 'utf8'));
const trainText = chapters.slice(0, 120), heldOut = chapters.slice(120);

async function trainTiny() {
  const tok = await trainBpe(trainText, { vocabSize: 1024, numThreads: 1 });
  const ids = trainText.flatMap((t) => tok.encode(t));
  const config = makeConfig({ vocabSize: tok.vocabSize, hiddenSize: 128, intermediateSize: 344, numHiddenLayers: 4, numAttentionHeads: 4,
    numKeyValueHeads: 2, maxPositionEmbeddings: SEQ, tieWordEmbeddings: false });
  const model = new StellarForCausalLM(config, { seed: 0 });
  const opt = new AdamW(model.namedParameters(), { lr: 3e-3, weightDecay: 0.01 });
  const B = 8;
  let step = 0, s = 12345;
  const t0 = Date.now();
  while ((Date.now() - t0) / 1000 < TRAIN_SECONDS) {
    const batch = new Int32Array(B * SEQ);
    for (let b = 0; b < B; b++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const at = s % (ids.length - SEQ);
      for (let t = 0; t < SEQ; t++) batch[b * SEQ + t] = ids[at + t];
    }
    T.tidy(() => {
      const x = T.Tensor.fromArray(batch, [B, SEQ], { dtype: 'int32' });
      model.forward(x, { labels: x }).loss.backward();
      opt.step();
      for (const p of model.parameters()) p.data.zeroGrad();
    });
    step++;
  }
  return { model: model.eval(), tok, source: `a model trained here for ${TRAIN_SECONDS} s (${step} AdamW steps of 8 x ${SEQ} tokens; dim 128, 4 layers, BPE ${tok.vocabSize})` };
}

/** exp(mean next-token loss) over non-overlapping SEQ-token windows of the held-out text. */
function perplexity(model, ids) {
  let sum = 0, n = 0;
  T.noGrad(() => {
    for (let at = 0; at + SEQ <= ids.length; at += SEQ) {
      T.tidy(() => {
        const x = T.Tensor.fromArray(ids.slice(at, at + SEQ), [1, SEQ], { dtype: 'int32' });
        const loss = model.forward(x, { labels: x }).loss.item();
        sum += loss * (SEQ - 1); n += SEQ - 1;
      });
    }
  });
  return { ppl: Math.exp(sum / n), tokens: n };
}

const final = findFinal();
let model, tok, source;
if (final) {
  model = fromPretrained(final).eval();
  tok = loadTokenizer(final);
  source = `${path.relative(root, final)} (the newest pipeline final/)`;
} else ({ model, tok, source } = await trainTiny());
const ids = heldOut.flatMap((t) => tok.encode(t)).slice(0, SEQ * 64);
const fp32 = perplexity(model, ids);
quantizeModel(model, { mode: 'int8' });
const int8 = perplexity(model, ids);
dequantizeModel(model);
process.stdout.write(JSON.stringify({ ok: true, source, fp32: fp32.ppl, int8: int8.ppl, tokens: fp32.tokens }) + '\n');
