// The RL pieces fed by the real data stack: @stellar/data's PromptDataset and builtin verifiable
// prompts (isCorrect as the rule reward, the tokenizer's decode) drive a GRPO iteration, and
// encodePreference pairs of the builtin preference set go through PairSource + dpoLoss in the Trainer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainBpe, type Tokenizer } from '@stellar/tokenizer';
import { PromptDataset, builtinPreferences, builtinPrompts, encodePreference, isCorrect, parsePreference, parsePrompt, type PromptItem } from '@stellar/data';
import { StellarForCausalLM, makeConfig } from '@stellar/nn';
import { AdamW, GrpoLoop, PairSource, Trainer, dpoLoss, precomputeReferenceLogps, type PreferencePair, type TrainLogger } from '../src';

let tok: Tokenizer;
const prompts = builtinPrompts({ tasks: ['add'], perTask: 24, words: [] });
const prefs = builtinPreferences({ tasks: ['add'], perTask: 24, words: [] });
beforeAll(async () => {
  const text = [...prompts.train.map((p) => `${p.prompt} ${p.reference}`), ...prefs.train.map((p) => `${p.prompt} ${p.chosen} ${p.rejected}`)].join('\n');
  tok = await trainBpe([text.repeat(3)], { vocabSize: 300 });
});
const model = (seed: number) => new StellarForCausalLM(makeConfig({ vocabSize: tok.vocabSize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 4, maxPositionEmbeddings: 128 }), { seed });

test('GRPO over a PromptDataset of builtin tasks with isCorrect as the reward', () => {
  const ds = new PromptDataset(tok, prompts.train.map((p) => parsePrompt({ prompt: p.prompt, reference: p.reference })), { maxPromptLength: 96, seed: 1 });
  const seen: { item: PromptItem; text: string; tokens: number[] }[] = [];
  const reward = (item: PromptItem, text: string, tokens: number[]) => { seen.push({ item, text, tokens }); return isCorrect('add', text, item.reference!) ? 1 : 0; };
  const eos = tok.tokenToId('<|im_end|>');
  expect(eos).toBeDefined();
  const loop = new GrpoLoop<PromptItem>({
    policy: model(1), reference: model(1), reward, decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }), prompts: ds,
    sampling: { maxNewTokens: 4, eosTokenId: eos }, promptsPerIteration: 2, numGenerations: 3, lr: 1e-3,
  });
  const s = loop.run();
  expect(seen.length).toBe(6);
  for (let g = 0; g < 6; g += 3) expect(new Set(seen.slice(g, g + 3).map((x) => x.item.index)).size).toBe(1);   // groups share a prompt
  for (const x of seen) {
    expect(x.text).toBe(tok.decode(x.tokens, { skipSpecialTokens: true }));
    expect(x.tokens.length).toBeGreaterThanOrEqual(1);
    expect(x.tokens.length).toBeLessThanOrEqual(4);
    expect(prompts.train.some((p) => p.reference === x.item.reference)).toBe(true);
  }
  expect(s.reward).toBeCloseTo(seen.filter((x) => isCorrect('add', x.text, x.item.reference!)).length / 6, 12);
  expect(Number.isFinite(s.loss) && Number.isFinite(s.kl)).toBe(true);
  expect((loop.state().meta.prompts as { index: number }).index).toBe(2);
});

test('encodePreference pairs train with PairSource + dpoLoss in the Trainer', async () => {
  const pairs = prefs.train.slice(0, 16).map((p) => encodePreference(tok, parsePreference(p), 96)).filter((p): p is NonNullable<typeof p> => p !== null) as PreferencePair[];
  expect(pairs.length).toBeGreaterThan(8);
  const policy = model(2);
  precomputeReferenceLogps(model(2), pairs);
  const quiet: TrainLogger = { step() {}, eval() {}, message() {}, close() {} };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-rl-data-'));
  const r = await new Trainer({ model: policy, optimizer: new AdamW(policy.namedParameters(), { lr: 5e-3 }), lossFn: dpoLoss({ beta: 0.1 }),
    data: new PairSource(pairs, { batchPairs: 4 }), runDir: dir, maxSteps: 16, peakLr: 5e-3, logger: quiet, handleSignals: false }).run();
  fs.rmSync(dir, { recursive: true, force: true });
  expect(r.losses[0].loss).toBeCloseTo(Math.log(2), 4);
  expect(r.losses.at(-1)!.loss).toBeLessThan(Math.log(2) - 0.1);
});
