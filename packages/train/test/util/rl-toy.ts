// Toy preference data for the RL tests: prompts of random tokens, the chosen answer made of even
// tokens and the rejected one of odd tokens, so a preference learned on some pairs carries over to
// fresh ones. Labels cover the response only, as @stellar/data's encodePreference does.
import type { PreferencePair } from '../../src';

export function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 4294967296; };
}

/** n pairs over a vocabulary of `vocab` ids (0 = pad, 1 = bos, 2 = eos, 3.. content). */
export function toyPairs(n: number, seed: number, vocab = 16): PreferencePair[] {
  const r = lcg(seed);
  const tok = (parity: number) => { for (;;) { const t = 3 + Math.floor(r() * (vocab - 3)); if (t % 2 === parity) return t; } };
  return Array.from({ length: n }, () => {
    const prompt = [1, ...Array.from({ length: 1 + Math.floor(r() * 3) }, () => 3 + Math.floor(r() * (vocab - 3)))];
    const answer = (parity: number) => [...Array.from({ length: 2 + Math.floor(r() * 3) }, () => tok(parity)), 2];
    const row = (resp: number[]) => ({ ids: [...prompt, ...resp], labels: [...prompt.map(() => -100), ...resp] });
    return { chosen: row(answer(0)), rejected: row(answer(1)) };
  });
}

/** A PromptSource over fixed prompts in order, with a cursor (what PromptDataset offers, minus the tokenizer). */
export class ToyPrompts {
  private i = 0;
  constructor(readonly items: { ids: number[]; reference: string | null }[]) {}
  next(n: number) { return Array.from({ length: n }, () => this.items[this.i++ % this.items.length]); }
  state() { return { i: this.i }; }
  restore(s: unknown) { this.i = (s as { i: number }).i; }
}

/** n prompts of 2-4 random content tokens after bos. */
export function toyPrompts(n: number, seed: number, vocab = 16): ToyPrompts {
  const r = lcg(seed);
  return new ToyPrompts(Array.from({ length: n }, () => ({ ids: [1, ...Array.from({ length: 2 + Math.floor(r() * 3) }, () => 3 + Math.floor(r() * (vocab - 3)))], reference: null })));
}
