// The built-in task families: short instructions with one verifiable answer and a plausible wrong
// answer (for preference pairs): multi-digit addition and subtraction, string tasks (reverse,
// uppercase, letter count) and WordNet definitions and synonyms. Each item has a key that decides
// its split, so held-out items never appear in training.
import { intIn, pick } from './rng';
import type { WordEntry } from './wordnet';

export type TaskName = 'add' | 'sub' | 'reverse' | 'upper' | 'count' | 'define' | 'synonym';
export const TASKS: readonly TaskName[] = ['add', 'sub', 'reverse', 'upper', 'count', 'define', 'synonym'];

export interface TaskItem {
  task: TaskName;
  /** Identity of the underlying question (split key): the same key is never in two splits. */
  key: string;
  prompt: string;
  answer: string;
  /** A plausible wrong answer. */
  wrong: string;
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const reverse = (s: string) => [...s].reverse().join('');

/** A wrong number near the right one: off by one, by ten, or with two digits swapped. */
function nearMiss(r: () => number, n: number): string {
  const s = String(n);
  const choice = intIn(r, 0, 2);
  if (choice === 2 && s.length >= 2) {
    const i = intIn(r, 0, s.length - 2);
    const sw = s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
    if (sw !== s && sw[0] !== '0') return sw;
  }
  const d = (choice === 1 ? 10 : 1) * (r() < 0.5 ? -1 : 1);
  return String(n + d >= 0 ? n + d : n + Math.abs(d));
}

export function makeItem(task: TaskName, r: () => number, words: readonly WordEntry[]): TaskItem | null {
  switch (task) {
    case 'add': {
      // two-digit operands: learnable by the pipeline's tiny model in minutes
      const a = intIn(r, 10, 99), b = intIn(r, 10, 99);
      return { task, key: `add:${a}+${b}`, prompt: `What is ${a} + ${b}?`, answer: String(a + b), wrong: nearMiss(r, a + b) };
    }
    case 'sub': {
      let a = intIn(r, 10, 99), b = intIn(r, 10, 99);
      if (b > a) [a, b] = [b, a];
      return { task, key: `sub:${a}-${b}`, prompt: `What is ${a} - ${b}?`, answer: String(a - b), wrong: nearMiss(r, a - b) };
    }
    case 'reverse': {
      const w = pick(r, words).word;
      if (reverse(w) === w) return null;
      const rev = reverse(w), swapped = rev[1] + rev[0] + rev.slice(2);   // almost right: first two letters swapped
      const wrong = r() < 0.5 || swapped === rev ? w : swapped;
      return { task, key: `reverse:${w}`, prompt: `Reverse the letters of the word "${w}".`, answer: rev, wrong };
    }
    case 'upper': {
      const w = pick(r, words).word;
      return { task, key: `upper:${w}`, prompt: `Write the word "${w}" in capital letters.`, answer: w.toUpperCase(), wrong: r() < 0.5 ? capital(w) : w };
    }
    case 'count': {
      const w = pick(r, words).word;
      return { task, key: `count:${w}`, prompt: `How many letters are in the word "${w}"?`, answer: String(w.length), wrong: String(w.length + (r() < 0.5 ? 1 : -1)) };
    }
    case 'define': {
      const e = pick(r, words);
      let other = pick(r, words);
      for (let i = 0; i < 8 && other.definition === e.definition; i++) other = pick(r, words);
      if (other.definition === e.definition) return null;
      return { task, key: `define:${e.word}`, prompt: `What does the word "${e.word}" mean?`, answer: `${capital(e.definition)}.`, wrong: `${capital(other.definition)}.` };
    }
    case 'synonym': {
      const withSyn = words.filter((w) => w.synonyms.length > 0);
      if (!withSyn.length) return null;
      const e = pick(r, withSyn);
      let other = pick(r, words);
      for (let i = 0; i < 8 && (other.word === e.word || e.synonyms.includes(other.word)); i++) other = pick(r, words);
      return { task, key: `synonym:${e.word}`, prompt: `Give a word that means the same as "${e.word}".`, answer: e.synonyms[0], wrong: other.word };
    }
  }
}

/** Normalised comparison of a model's answer with the reference, per task (the rule-based reward). */
export function isCorrect(task: TaskName, response: string, answer: string): boolean {
  const norm = (s: string) => s.trim().replace(/[.!]+$/, '').trim();
  const r = norm(response), a = norm(answer);
  if (task === 'add' || task === 'sub' || task === 'count') {
    const m = /-?\d+/.exec(r);
    return !!m && m[0] === a;
  }
  if (task === 'upper') return r === a;
  return r.toLowerCase() === a.toLowerCase();
}
