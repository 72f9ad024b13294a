// The prompt set of PPO/GRPO rollouts: prompts rendered by the chat template up to the assistant
// header, each with an optional reference answer for rule-based rewards, served in seeded per-epoch
// order through a cursor that a checkpoint saves and a resumed run restores.
import type { Tokenizer } from '@stellar/tokenizer';
import { permutation, mixSeed } from '../random';
import { checkCursor, type Cursor } from '../sample';
import type { Message } from './conversations';
import type { PromptRecord } from './preference';

export interface PromptItem {
  /** Chat-templated prompt tokens, ending with the generation prompt (the assistant header). */
  ids: number[];
  messages: Message[];
  reference: string | null;
  /** Position of the record in the input (dropped records count too): stable across epochs and runs. */
  index: number;
}

export interface PromptOptions {
  /** Prompts longer than this (in tokens) are dropped and counted. */
  maxPromptLength: number;
  seed?: number;
  shuffle?: boolean;
}

export interface PromptReport { prompts: number; dropped: number; withReference: number }

export class PromptDataset {
  readonly report: PromptReport = { prompts: 0, dropped: 0, withReference: 0 };
  private readonly items: PromptItem[] = [];
  private cursor: Cursor;
  private perm: { epoch: number; order: Uint32Array } | null = null;

  constructor(tok: Tokenizer, records: Iterable<PromptRecord>, readonly opts: PromptOptions) {
    if (!(Number.isInteger(opts.maxPromptLength) && opts.maxPromptLength >= 1)) {
      throw new Error(`PromptDataset: maxPromptLength must be a positive integer, got ${opts.maxPromptLength}`);
    }
    let index = -1;
    for (const r of records) {
      index++;
      const ids = tok.encodeChat(r.messages, { addGenerationPrompt: true }).ids;
      if (ids.length > opts.maxPromptLength) { this.report.dropped++; continue; }
      this.items.push({ ids, messages: r.messages, reference: r.reference, index });
      if (r.reference !== null) this.report.withReference++;
    }
    this.report.prompts = this.items.length;
    if (!this.items.length) throw new Error(`PromptDataset: no usable prompts (${this.report.dropped} longer than maxPromptLength ${opts.maxPromptLength})`);
    this.cursor = { epoch: 0, index: 0, seed: opts.seed ?? 0 };
  }

  get length(): number { return this.items.length; }

  /** Item `index` of epoch `epoch`'s order. */
  at(epoch: number, index: number): PromptItem {
    if (!(index >= 0 && index < this.items.length)) throw new Error(`PromptDataset: index ${index} outside [0, ${this.items.length})`);
    if (this.opts.shuffle === false) return this.items[index];
    if (this.perm?.epoch !== epoch) this.perm = { epoch, order: permutation(this.items.length, mixSeed(this.cursor.seed, epoch)) };
    return this.items[this.perm.order[index]];
  }

  /** The next n prompts, continuing into the next epoch's order at the end of one (never short). */
  next(n: number): PromptItem[] {
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`PromptDataset.next: n must be a positive integer, got ${n}`);
    const out: PromptItem[] = [];
    while (out.length < n) {
      if (this.cursor.index >= this.items.length) this.cursor = { ...this.cursor, epoch: this.cursor.epoch + 1, index: 0 };
      out.push(this.at(this.cursor.epoch, this.cursor.index));
      this.cursor = { ...this.cursor, index: this.cursor.index + 1 };
    }
    return out;
  }

  state(): Cursor { return { ...this.cursor }; }
  restore(state: unknown): void { this.cursor = checkCursor(state as Cursor, 'PromptDataset.restore'); }
}
