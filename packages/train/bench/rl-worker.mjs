// Our side of rl.bench.mjs: loads the shared HF model directory with fromPretrained and steps one RLHF
// loop on request over stdin/stdout, with the same protocol as tools/bench/trl_rl.py:
//   --mode ppo:  PpoLoop (shared-trunk value head, frozen reference, rule reward) -> one iteration per `step`,
//                replying the rollout's generate() time and the PPO epochs' time as PpoLoop measures them.
//   --mode grpo: GrpoLoop (beta 0, one optimizer step per rollout) -> one iteration per `step`, timed whole.
//   --mode dpo:  Trainer + dpoLoss over reference log-probs precomputed once; the data source waits for
//                `step` before handing the Trainer its next batch, so one optimizer step runs per command.
// Not a bench itself.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import * as T from '@stellar/tensor';
import { fromPretrained, StellarForCausalLMWithValueHead } from '@stellar/nn';
import { loadTokenizer, encodeChat } from '@stellar/tokenizer';
import { encodePreference } from '@stellar/data';
import { AdamW, GrpoLoop, PairSource, PpoLoop, Trainer, dpoLoss, precomputeReferenceLogps } from '@stellar/train';

const reply = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(`--${name}`); return i < 0 ? def : argv[i + 1]; };
const num = (name, def) => Number(opt(name, def));
const mode = opt('mode'), dir = opt('model');
const readJsonl = (file, limit = Infinity) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).slice(0, limit).map((l) => JSON.parse(l));
/** The bench's rule reward (the same in trl_rl.py): share of digit characters in the response. */
const digitFraction = (text) => { let d = 0; for (const c of text) if (c >= '0' && c <= '9') d++; return d / Math.max(1, text.length); };

const tok = loadTokenizer(dir);
const policy = fromPretrained(dir);
const lr = num('lr', 1e-5), newTokens = num('new-tokens', 32);

/** Prompts in file order, chat-templated with the generation prompt (as TRL renders conversational prompts). */
function promptSource() {
  const items = readJsonl(opt('prompts')).map((r) => ({ ids: encodeChat(tok, r.prompt, { addGenerationPrompt: true }).ids, reference: r.reference }));
  let cursor = 0;
  return {
    next: (n) => { const b = Array.from({ length: n }, () => items[cursor++ % items.length]); lastPromptMax = Math.max(...b.map((it) => it.ids.length)); return b; },
    state: () => cursor, restore: (s) => { cursor = s; },
  };
}
// EOS is not given, so every row samples exactly maxNewTokens (the peer forces the same with min_new_tokens)
const sampling = { maxNewTokens: newTokens, temperature: 1, topK: 0, topP: 1, padTokenId: tok.tokenToId('<|pad|>') };
const decode = (ids) => tok.decode(ids);
const reward = (_item, text) => digitFraction(text);

let onStep;   // () => Promise<object> | object: one step's reply
let lastPromptMax = 0;   // longest prompt of the last batch: rollout rows are right padded to it + maxNewTokens
if (mode === 'ppo') {
  const reference = fromPretrained(dir);
  const loop = new PpoLoop({ policy, valueModel: new StellarForCausalLMWithValueHead(policy, { seed: 0 }), reference, reward, decode, prompts: promptSource(), sampling,
    batchSize: num('batch', 8), miniBatchSize: num('mini-batch', 4), ppoEpochs: num('epochs', 4), lr, kl: { coef: 0.05, estimator: 'k1' }, maxGradNorm: 1, seed: 0 });
  onStep = () => {
    const s = loop.run();
    const genTokens = s.responseLength * loop.o.batchSize, optTokens = s.updates * num('mini-batch', 4) * newTokens;
    return { ok: true, gen_ms: (genTokens / s.rolloutTokensPerSec) * 1e3, gen_tokens: genTokens, opt_ms: (optTokens / s.optimTokensPerSec) * 1e3, opt_tokens: optTokens,
      opt_row_tokens: s.updates * num('mini-batch', 4) * (lastPromptMax + newTokens) };
  };
} else if (mode === 'grpo') {
  const P = num('prompts-per-step', 2), N = num('generations', 4);
  const loop = new GrpoLoop({ policy, reward, decode, prompts: promptSource(), sampling, promptsPerIteration: P, numGenerations: N, miniBatchSize: P * N,
    numIterations: 1, beta: 0, lr, maxGradNorm: 1, aggregate: 'sequence', seed: 0 });
  onStep = () => {
    const t0 = performance.now();
    const s = loop.run();
    return { ok: true, ms: performance.now() - t0, tokens: s.responseLength * P * N };
  };
} else if (mode === 'dpo') {
  const maxLength = num('max-length', 128), batchPairs = num('batch', 8);
  const pairs = readJsonl(opt('prefs'), num('pairs', 512)).map((r) => encodePreference(tok, { prompt: r.prompt, chosen: r.chosen[0].content, rejected: r.rejected[0].content }, maxLength)).filter(Boolean);
  precomputeReferenceLogps(policy, pairs, { batchPairs });   // the starting policy is the reference, as TRL without ref_model
  const src = new PairSource(pairs, { batchPairs, seed: 0 });
  // the Trainer awaits data.next(): hold it there until the bench asks for a step
  let permits = 0, wake = null, t0 = 0, tokens = 0, pending = null;
  const gated = {
    async next() {
      if (permits === 0) await new Promise((r) => { wake = r; });
      permits--;
      t0 = performance.now();
      const b = src.next();
      tokens = b.attentionMask.reduce((a, x) => a + x, 0);
      return b;
    },
    state: () => src.state(), restore: (s) => src.restore(s),
  };
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-rl-bench-'));
  process.on('exit', () => fs.rmSync(runDir, { recursive: true, force: true }));
  const logger = { step() { const r = { ok: true, ms: performance.now() - t0, tokens }; pending?.(r); pending = null; }, eval() {}, message() {}, close() {} };
  const trainer = new Trainer({ model: policy, optimizer: new AdamW(policy.namedParameters(), { lr, weightDecay: 0 }), lossFn: dpoLoss({ beta: 0.1 }),
    data: gated, runDir, maxSteps: 1e6, peakLr: lr, clipGradNorm: 1, handleSignals: false, logger });
  trainer.run().catch((e) => { reply({ ok: false, error: String(e?.message ?? e) }); process.exit(1); });
  onStep = () => new Promise((resolve) => {
    pending = resolve;
    permits++;
    if (wake) { const w = wake; wake = null; w(); }
  });
} else throw new Error(`rl-worker.mjs: --mode must be ppo, grpo or dpo, got ${mode}`);

reply({ ok: true, threads: T.numThreads(), params: policy.numParameters() });
reply({ ok: true, ready: true });
for await (const line of readline.createInterface({ input: process.stdin })) {
  const cmd = line.trim().split(/\s+/);
  if (!cmd[0]) continue;
  if (cmd[0] === 'quit') break;
  try {
    if (cmd[0] === 'step') reply(await onStep());
    else reply({ ok: false, error: `unknown command ${cmd[0]}` });
  } catch (e) { reply({ ok: false, error: String(e?.message ?? e) }); }
}
process.exit(0);
