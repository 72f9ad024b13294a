// The built-in generated data: deterministic, answers right, rejected answers wrong, held-out keys
// never in training, WordNet parsed sensibly, and the rule-based checker accepts exactly the right answers.
import { builtinItems, builtinSft, builtinPreferences, builtinPrompts, isCorrect, loadNouns, TASKS, makeItem, mulberry32 } from '../src/builtin';

const words = loadNouns({ limit: 800 });

test('WordNet nouns: common words first, with short definitions and single-word synonyms', () => {
  expect(words.length).toBe(800);
  const byWord = new Map(words.map((w) => [w.word, w]));
  expect(byWord.get('time')?.definition).toMatch(/\w/);
  for (const w of words) {
    expect(w.word).toMatch(/^[a-z]{3,12}$/);
    expect(w.definition.length).toBeGreaterThanOrEqual(8);
    expect(w.synonyms).not.toContain(w.word);
  }
  expect(words[0].frequency).toBeGreaterThanOrEqual(words[799].frequency);
  expect(words.filter((w) => w.synonyms.length).length).toBeGreaterThan(100);
});

test('deterministic from the seed; every task present; held-out keys disjoint from training', () => {
  const a = builtinItems({ words, perTask: 150 }), b = builtinItems({ words, perTask: 150 });
  expect(a).toEqual(b);
  expect(builtinItems({ words, perTask: 150, seed: 1 })).not.toEqual(a);
  const train = new Set(a.train.map((i) => i.key));
  expect(a.test.length).toBeGreaterThan(40);
  for (const it of a.test) expect(train.has(it.key)).toBe(false);
  expect(new Set(a.train.map((i) => i.task))).toEqual(new Set(TASKS));
  // the same key lands in the same split in every set (SFT, preference and prompt sets draw different items)
  const prefs = builtinPreferences({ words, perTask: 150 });
  for (const p of prefs.train) expect(a.test.some((i) => i.key === p.key)).toBe(false);
});

test('answers are right, rejected answers are wrong, and the checker agrees', () => {
  const { train } = builtinItems({ words, perTask: 100 });
  for (const it of train) {
    expect(it.wrong).not.toBe(it.answer);
    expect(isCorrect(it.task, it.answer, it.answer)).toBe(true);
    expect(isCorrect(it.task, it.wrong, it.answer)).toBe(false);
    const q = /"([a-z]+)"/.exec(it.prompt)?.[1];
    if (it.task === 'add') { const [x, y] = it.prompt.match(/\d+/g)!.map(Number); expect(Number(it.answer)).toBe(x + y); }
    if (it.task === 'sub') { const [x, y] = it.prompt.match(/\d+/g)!.map(Number); expect(Number(it.answer)).toBe(x - y); }
    if (it.task === 'reverse') expect(it.answer).toBe([...q!].reverse().join(''));
    if (it.task === 'upper') expect(it.answer).toBe(q!.toUpperCase());
    if (it.task === 'count') expect(Number(it.answer)).toBe(q!.length);
  }
  expect(isCorrect('add', ' The answer is 935.', '935')).toBe(true);
  expect(isCorrect('upper', 'garden', 'GARDEN')).toBe(false);
  expect(isCorrect('reverse', 'Nedrag.', 'nedrag')).toBe(true);
  expect(makeItem('add', mulberry32(3), words)!.prompt).toMatch(/^What is \d+ \+ \d+\?$/);
});

test('SFT conversations, preference pairs and RL prompts have the seed projects\' shapes', () => {
  const sft = builtinSft({ words, perTask: 20 }), pref = builtinPreferences({ words, perTask: 20 }), pr = builtinPrompts({ words, perTask: 20 });
  expect(sft.train[0].messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  expect(sft.train[0].messages[1].content).toBe(sft.train[0].answer);
  expect(Object.keys(pref.train[0]).sort()).toEqual(['chosen', 'key', 'prompt', 'rejected', 'task']);
  expect(Object.keys(pr.train[0]).sort()).toEqual(['key', 'prompt', 'reference', 'task']);
});

test('the built-in corpus: State of the Union speeches and Moby-Dick chapters, ~12 MB of text', async () => {
  const { builtinCorpus } = await import('../src/builtin');
  const all = builtinCorpus();
  expect(all.files.filter((f) => /datasets-sotu/.test(f)).length).toBeGreaterThan(200);
  expect(all.files.filter((f) => /chapter_\d+\.txt$/.test(f)).length).toBe(135);
  expect(all.bytes).toBeGreaterThan(11e6);
  expect(builtinCorpus(['moby-dick']).files[0]).toMatch(/chapter_1\.txt$/);
});
