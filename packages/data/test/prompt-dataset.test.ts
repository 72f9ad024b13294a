// The RL prompt set: prompts end at the assistant header, references ride along, long prompts are
// dropped and counted, the order is seeded per epoch, and a restored cursor replays exactly.
import { trainBpe, type Tokenizer } from '@stellar/tokenizer';
import { PromptDataset, parsePrompt, builtinPrompts } from '../src';

let tok: Tokenizer;
beforeAll(async () => {
  tok = await trainBpe(['what is two plus two? four. reverse the word cat: tac. '.repeat(30)], { vocabSize: 350 });
});

const records = () => [
  parsePrompt({ prompt: 'what is two plus two?', reference: 'four' }),
  parsePrompt({ prompt: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'reverse cat' }], answer: 'tac' }),
  parsePrompt({ prompt: 'say something' }),
  parsePrompt({ prompt: 'two '.repeat(80) }),
  parsePrompt({ prompt: 'reverse the word cat', reference: 'tac' }),
];

test('prompts are rendered up to the generation prompt, with references; too-long ones dropped and counted', () => {
  const ds = new PromptDataset(tok, records(), { maxPromptLength: 40, shuffle: false });
  expect(ds.report).toEqual({ prompts: 4, dropped: 1, withReference: 3 });
  const first = ds.at(0, 0);
  expect(tok.decode(first.ids)).toMatch(/<\|im_start\|>user\nwhat is two plus two\?<\|im_end\|>\n<\|im_start\|>assistant\n$/);
  expect(first.reference).toBe('four');
  expect(ds.at(0, 1).messages[0]).toEqual({ role: 'system', content: 'be brief' });
  expect(ds.at(0, 2).reference).toBeNull();
  expect(ds.at(0, 3).index).toBe(4);  // positions in the input, the dropped record included
  expect(() => new PromptDataset(tok, [records()[3]], { maxPromptLength: 10 })).toThrow(/no usable prompts \(1 longer than maxPromptLength 10\)/);
  expect(() => parsePrompt({ prompt: 'x', reference: 3 })).toThrow(/"reference" must be a string/);
});

test('seeded epochs cover every prompt once; a restored cursor gives the identical sequence', () => {
  const ds = new PromptDataset(tok, records(), { maxPromptLength: 40, seed: 7 });
  const epoch0 = ds.next(4).map((p) => p.index);
  expect([...epoch0].sort()).toEqual([0, 1, 2, 4]);
  const saved = ds.state();
  const after = ds.next(6).map((p) => p.index);   // crosses into epoch 2
  const again = new PromptDataset(tok, records(), { maxPromptLength: 40, seed: 7 });
  again.restore(JSON.parse(JSON.stringify(saved)));
  expect(again.next(6).map((p) => p.index)).toEqual(after);
  const other = new PromptDataset(tok, records(), { maxPromptLength: 40, seed: 8 });
  const orders = [0, 1, 2].map(() => other.next(4).map((p) => p.index).join());
  expect(new Set(orders).size).toBeGreaterThan(1);  // reshuffled per epoch
  expect(() => ds.restore({ epoch: -1, index: 0, seed: 0 })).toThrow(/cursor.epoch/);
});

test('the built-in prompt set loads with a reference on every prompt', () => {
  const { train } = builtinPrompts({ perTask: 5 });
  const ds = new PromptDataset(tok, train.map((p) => parsePrompt(p)), { maxPromptLength: 256 });
  expect(ds.report.withReference).toBe(ds.length);
  expect(ds.length).toBeGreaterThan(10);
});
