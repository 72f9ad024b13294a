// generate(): greedy equals repeated argmax of full forward passes (batch of different lengths),
// seeded sampling is reproducible, stop rules and log-probs are right, and each logit processor
// does what it says on hand-made logits.
import { Tensor, noGrad, tidy, logSoftmax } from '@stellar/tensor';
import {
  StellarForCausalLM, makeConfig, generate, applyTopK, applyTopP, applyMinP, applyRepetitionPenalty, applyPresenceFrequency, softmaxRow,
} from '../src';

const model = new StellarForCausalLM(makeConfig({ vocabSize: 48, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, initializerRange: 0.3 }), { seed: 11 }).eval();
afterAll(() => model.dispose());
const prompts = [[3, 17, 5, 9, 22, 1], [8, 2], [40, 41, 12, 7]];

/** Last-position log-probs of a full forward pass over `ids` (no cache). */
function fullLogprobs(ids: number[]): Float64Array {
  return noGrad(() => tidy(() => {
    const { logits } = model.forward(Tensor.fromArray(ids, [1, ids.length], { dtype: 'int32' }));
    return logSoftmax(logits.slice(1, ids.length - 1)).toFloat64();
  }));
}
const argmax = (x: Float64Array) => x.indexOf(Math.max(...x));

test('greedy decoding of a ragged batch equals repeated argmax of full forward passes, with log-probs', () => {
  const res = generate(model, prompts, { maxNewTokens: 6, temperature: 0, logprobs: true });
  expect(res.finishReasons).toEqual(['length', 'length', 'length']);
  prompts.forEach((p, b) => {
    const seq = [...p];
    for (let s = 0; s < 6; s++) {
      const lp = fullLogprobs(seq);
      const tok = argmax(lp);
      expect(res.tokens[b][s]).toBe(tok);
      expect(Math.abs(res.logprobs![b][s] - lp[tok])).toBeLessThan(2e-5);
      seq.push(tok);
    }
  });
});

test('seeded sampling is reproducible, and other seeds give other samples', () => {
  const o = { maxNewTokens: 8, temperature: 1.3, topK: 20, topP: 0.95, seed: 5 };
  const a = generate(model, prompts, o), b = generate(model, prompts, o);
  expect(a.tokens).toEqual(b.tokens);
  const others = [6, 7, 8].map((seed) => generate(model, prompts, { ...o, seed }).tokens);
  expect(others.some((t) => JSON.stringify(t) !== JSON.stringify(a.tokens))).toBe(true);
});

test('eos and stop sequences finish a row (kept in its output); onToken can cancel', () => {
  const greedy = generate(model, [prompts[0]], { maxNewTokens: 6, temperature: 0 }).tokens[0];
  const eos = generate(model, [prompts[0], prompts[1]], { maxNewTokens: 6, temperature: 0, eosTokenId: greedy[2] });
  expect(eos.tokens[0]).toEqual(greedy.slice(0, 3));
  expect(eos.finishReasons[0]).toBe('stop');
  const stop = generate(model, [prompts[0]], { maxNewTokens: 6, temperature: 0, stop: [[greedy[3], greedy[4]]] });
  expect(stop.tokens[0]).toEqual(greedy.slice(0, 5));
  expect(stop.finishReasons).toEqual(['stop']);
  const cancel = generate(model, [prompts[0]], { maxNewTokens: 6, temperature: 0, onToken: (_r, _t) => true });
  expect(cancel.tokens[0]).toEqual(greedy.slice(0, 1));
  expect(cancel.finishReasons).toEqual(['cancelled']);
});

test('a repetition penalty changes greedy output away from repeats; bad options are refused by name', () => {
  const rep = generate(model, [prompts[1]], { maxNewTokens: 12, temperature: 0, repetitionPenalty: 1e6 }).tokens[0];
  expect(new Set(rep).size).toBe(rep.length);   // no token repeats under an overwhelming penalty
  for (const t of rep) expect(prompts[1]).not.toContain(t);
  expect(() => generate(model, prompts, { topP: 0 })).toThrow(/topP must be in \(0, 1\]/);
  expect(() => generate(model, [[]], {})).toThrow(/prompt 0 is empty/);
  expect(() => generate(model, [[99]], {})).toThrow(/token 99 outside \[0, 48\)/);
});

test('top-k keeps the k largest (ties kept), top-p the smallest nucleus reaching p, min-p relative to the max', () => {
  const x = Float64Array.from([1, 3, 2, 3, 0]);
  applyTopK(x, 2);
  expect([...x]).toEqual([-Infinity, 3, -Infinity, 3, -Infinity]);
  const probs = [0.5, 0.3, 0.15, 0.05];
  const y = Float64Array.from(probs, Math.log);
  applyTopP(y, 0.79);   // 0.5 + 0.3 reaches 0.79: two kept
  expect([...y].map((v) => v > -Infinity)).toEqual([true, true, false, false]);
  const y2 = Float64Array.from(probs, Math.log);
  applyTopP(y2, 0.81);   // needs the third
  expect([...y2].map((v) => v > -Infinity)).toEqual([true, true, true, false]);
  const z = Float64Array.from(probs, Math.log);
  applyMinP(z, 0.35);   // threshold 0.175
  expect([...z].map((v) => v > -Infinity)).toEqual([true, true, false, false]);
  expect([...softmaxRow(Float64Array.from(probs, Math.log))].map((v) => +v.toFixed(12))).toEqual(probs);
});

test('repetition penalty divides positive and multiplies negative logits; presence/frequency subtract per count', () => {
  const x = Float64Array.from([2, -2, 1]);
  applyRepetitionPenalty(x, [0, 1, 1], 2);
  expect([...x]).toEqual([1, -4, 1]);
  const y = Float64Array.from([0, 0, 0]);
  applyPresenceFrequency(y, new Map([[0, 3], [2, 1]]), 0.5, 0.25);
  expect([...y]).toEqual([-1.25, 0, -0.75]);
});
