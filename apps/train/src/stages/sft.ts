// Stages "sft" and "lora": chat-templated conversations with loss on assistant tokens only, from the
// built-in task data and/or JSONL files, starting from `init`; "lora" trains adapters on a frozen
// base and writes them in PEFT layout (adapter/) and, with lora.merge, the merged model as final/.
import path from 'node:path';
import { applyLora, saveLoraAdapter } from '@stellar/nn';
import { BatchLoader, SftDataset, builtinSft, normalizeConversation, readJsonl, expandInputs, type Message } from '@stellar/data';
import { causalLmLoss } from '@stellar/train';
import type { Tokenizer } from '@stellar/tokenizer';
import { initModel, openRun, saveFinal, stageTokenizer, trainStage, type StageContext } from './common';
import type { StageResult } from './pretrain';

async function conversations(ctx: StageContext): Promise<{ train: Message[][]; test: Message[][] }> {
  const d = ctx.cfg.data;
  const sys = d.system_prompt ? { systemPrompt: d.system_prompt } : {};
  const out = { train: [] as Message[][], test: [] as Message[][] };
  if (d.sft.includes('builtin')) {
    const b = builtinSft({ seed: ctx.cfg.seed, perTask: d.sft_per_task });
    out.train.push(...b.train.map((s) => normalizeConversation(s.messages, sys)));
    out.test.push(...b.test.map((s) => normalizeConversation(s.messages, sys)));
  }
  const files = d.sft.filter((s) => s !== 'builtin');
  if (files.length) {
    const stream = readJsonl(expandInputs(files), { onBadRecord: d.on_bad_record });
    for await (const r of stream) {
      try { out.train.push(normalizeConversation(r.value, sys)); } catch (e) {
        if (d.on_bad_record === 'fail') throw new Error(`${r.source}: ${(e as Error).message}`);
        stream.report.add(r.source, (e as Error).message);
      }
    }
    if (stream.report.count) ctx.say(`sft data: ${String(stream.report)}`);
  }
  if (!out.train.length) throw new Error('sft: no conversations (data.sft lists no usable source)');
  return out;
}

export async function sftStage(ctx: StageContext, stage: 'sft' | 'lora' = 'sft', opts: { init?: string; tokenizer?: Tokenizer } = {}): Promise<StageResult> {
  const { cfg } = ctx;
  const init = opts.init ?? cfg.init;
  if (!init) throw new Error(`${stage}: set init=<model directory> (e.g. a pretrain run's final/)`);
  const run = openRun(ctx, stage);
  const tok = opts.tokenizer ?? stageTokenizer(cfg, init);
  const conv = await conversations(ctx);
  const T = cfg.train.seq_len;
  const train = new SftDataset(tok, conv.train, { maxLength: T, seed: cfg.seed, pack: cfg.data.sft_pack });
  const rep = train.report;
  ctx.say(`sft data: ${rep.samples} conversations (${rep.truncated} truncated, ${rep.dropped} dropped at ${T} tokens), ${rep.labelTokens} label tokens`
    + (rep.packedRows ? `, packed into ${rep.packedRows} rows (${(100 * rep.packFill!).toFixed(0)}% full)` : ''));
  const test = conv.test.length ? new SftDataset(tok, conv.test, { maxLength: T, shuffle: false }) : null;
  const model = initModel(init);
  if (cfg.model.gradient_checkpointing) model.gradientCheckpointingEnable();
  const lora = stage === 'lora' ? applyLora(model, { r: cfg.lora.r, alpha: cfg.lora.alpha, dropout: cfg.lora.dropout, targetModules: cfg.lora.targets, seed: cfg.seed }) : null;
  if (lora) ctx.say(`lora: ${lora.numTrainableParameters()} trainable of ${model.numParameters()} parameters`);
  const loader = new BatchLoader(train, { batchSize: cfg.train.batch_size, prefetch: 0 });
  const evalData = test ? () => new BatchLoader(test, { batchSize: cfg.train.batch_size, prefetch: 0, epochs: 1, dropLast: false }) : undefined;
  try {
    const r = await trainStage({ ctx, run, model, lossFn: causalLmLoss({ labelSmoothing: cfg.train.label_smoothing }), data: loader, evalData });
    let final: string | null = null;
    if (r.stoppedBy !== 'signal') {
      if (lora) {
        if (run.dist.isMain) saveLoraAdapter(lora, path.join(run.dir, 'adapter'));
        if (cfg.lora.merge) { lora.merge(); lora.removeLora(); final = saveFinal(run, model, tok); }
      } else final = saveFinal(run, model, tok);
    }
    return { dir: run.dir, final, stoppedBy: r.stoppedBy, valLoss: r.evals.length ? r.evals[r.evals.length - 1].loss : null };
  } finally {
    model.dispose();
  }
}
