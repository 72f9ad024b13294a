// Engine.load({ quantize: 'int8' }): the engine's model runs int8 layers, and its greedy output equals
// generate() on the same model quantized by hand, for single and concurrent (batched) requests.
import { fromPretrained, generate, quantizeModel, isQuantized } from '@stellar/nn';
import { Engine, EngineError } from '../src';
import { prompts, tinyModelDir, type TinyModel, removeTmpDirs } from './util/tiny';

let tiny: TinyModel;
beforeAll(async () => { tiny = await tinyModelDir('quantize'); });
afterAll(() => { tiny.model.dispose(); removeTmpDirs(); });

function doneTokens(h: unknown): number[] {
  return (h as { buffer: { type: string; tokens: number[] }[] }).buffer.find((x) => x.type === 'done')!.tokens;
}

test("greedy output of an int8 engine equals generate() on the quantized model", () => {
  const ref = fromPretrained(tiny.dir).eval();
  quantizeModel(ref, { mode: 'int8' });
  const e = Engine.load({ model: tiny.dir, quantize: 'int8', autoRun: false, eosTokenIds: [] });
  try {
    expect(isQuantized(e.model)).toBe(true);
    const ps = prompts(4, tiny.tok.vocabSize, 23);
    const want = ps.map((p) => generate(ref, [p], { maxNewTokens: 10, temperature: 0 }).tokens[0]);
    // one at a time
    for (let i = 0; i < ps.length; i++) {
      const h = e.submit({ prompt: ps[i], maxTokens: 10, temperature: 0 });
      e.runUntilIdle();
      expect(doneTokens(h)).toEqual(want[i]);
    }
    // all together: decode steps batch the four rows
    const hs = ps.map((p) => e.submit({ prompt: p, maxTokens: 10, temperature: 0 }));
    e.runUntilIdle();
    hs.forEach((h, i) => expect(doneTokens(h)).toEqual(want[i]));
  } finally { e.close(); ref.dispose(); }
});

test('quantize accepts only int8', () => {
  expect(() => Engine.load({ model: tiny.dir, quantize: 'int4' as 'int8', autoRun: false })).toThrow(EngineError);
});
