// The built-in instruction, preference and prompt sets generated from the task families: SFT
// conversations, {prompt, chosen, rejected} pairs and RL prompts with reference answers, each with
// a held-out split disjoint from training (by item key). Deterministic for a given seed.
import { mulberry32, splitOf } from './rng';
import { TASKS, makeItem, type TaskItem, type TaskName } from './tasks';
import { loadNouns, type WordEntry } from './wordnet';

export interface BuiltinOptions {
  seed?: number;            // 0
  /** Items per task family and split before de-duplication (default 400 train / test share by hash). */
  perTask?: number;
  /** Percent of item keys held out (default 10). */
  testPercent?: number;
  tasks?: readonly TaskName[];
  /** Nouns for the word tasks (default: the 1500 most frequent from WordNet). */
  words?: readonly WordEntry[];
}

export interface ChatMessage { role: 'system' | 'user' | 'assistant'; content: string }
export interface SftSample { task: TaskName; key: string; messages: ChatMessage[]; answer: string }
export interface PreferenceSample { task: TaskName; key: string; prompt: string; chosen: string; rejected: string }
export interface PromptSample { task: TaskName; key: string; prompt: string; reference: string }
export interface Splits<T> { train: T[]; test: T[] }

/** Unique items per task, split by key. */
export function builtinItems(o: BuiltinOptions = {}): Splits<TaskItem> {
  const words = o.words ?? loadNouns({ limit: 1500 });
  const r = mulberry32(o.seed ?? 0);
  const per = o.perTask ?? 400, pct = o.testPercent ?? 10;
  const out: Splits<TaskItem> = { train: [], test: [] };
  for (const task of o.tasks ?? TASKS) {
    const seen = new Set<string>();
    for (let tries = 0; seen.size < per && tries < per * 20; tries++) {
      const it = makeItem(task, r, words);
      if (!it || seen.has(it.key)) continue;
      seen.add(it.key);
      out[splitOf(it.key, pct)].push(it);
    }
  }
  return out;
}

const mapSplits = <A, B>(s: Splits<A>, f: (a: A) => B): Splits<B> => ({ train: s.train.map(f), test: s.test.map(f) });

export function builtinSft(o: BuiltinOptions = {}): Splits<SftSample> {
  return mapSplits(builtinItems(o), (it) => ({ task: it.task, key: it.key, answer: it.answer,
    messages: [{ role: 'user', content: it.prompt }, { role: 'assistant', content: it.answer }] }));
}

export function builtinPreferences(o: BuiltinOptions = {}): Splits<PreferenceSample> {
  return mapSplits(builtinItems({ ...o, seed: (o.seed ?? 0) + 1 }), (it) => ({ task: it.task, key: it.key, prompt: it.prompt, chosen: it.answer, rejected: it.wrong }));
}

export function builtinPrompts(o: BuiltinOptions = {}): Splits<PromptSample> {
  return mapSplits(builtinItems({ ...o, seed: (o.seed ?? 0) + 2 }), (it) => ({ task: it.task, key: it.key, prompt: it.prompt, reference: it.answer }));
}
