// The SFT dataset: conversations rendered by the tokenizer's chat template, labels only on assistant
// tokens (the content and its end-of-turn marker; -100 on system/user turns and template markup),
// truncated to maxLength on the right. A sample whose assistant tokens would all be cut is dropped
// and counted (never silently turned into a label-free window); truncated ones are counted too.
// With `pack`, short samples share rows (packing.ts) and each row carries segment and position ids.
import type { Tokenizer } from '@stellar/tokenizer';
import { permutation, mixSeed } from '../random';
import type { Cursor, DatasetDescriptor, Sample, SampleDataset } from '../sample';
import type { Message } from './conversations';
import { packSamples } from './packing';

export interface SftOptions {
  maxLength: number;
  /** Shuffle seed (per-epoch permutation); default 0. */
  seed?: number;
  shuffle?: boolean;
  /**
   * Pack several samples into each row of up to maxLength tokens (first-fit decreasing, done once);
   * rows carry `segmentIds` and restarted `positionIds` so attention and positions stay per sample.
   */
  pack?: boolean;
}

export interface SftReport {
  samples: number;
  /** Samples whose assistant tokens would all fall past maxLength: dropped. */
  dropped: number;
  /** Samples cut at maxLength that kept some assistant tokens. */
  truncated: number;
  /** Tokens that carry a label, over all kept samples. */
  labelTokens: number;
  tokens: number;
  /** With `pack`: rows after packing and the share of their maxLength slots holding real tokens. */
  packedRows?: number;
  packFill?: number;
}

/** One conversation -> ids and aligned labels (-100 where no loss), before truncation. */
export function encodeSft(tok: Tokenizer, messages: readonly Message[]): { ids: number[]; labels: number[] } {
  const { ids, assistantMask } = tok.encodeChat(messages);
  return { ids, labels: ids.map((t, i) => (assistantMask[i] ? t : -100)) };
}

export class SftDataset implements SampleDataset {
  readonly report: SftReport = { samples: 0, dropped: 0, truncated: 0, labelTokens: 0, tokens: 0 };
  private samples: Sample[] = [];
  readonly seed: number;
  private readonly shuffle: boolean;

  constructor(tok: Tokenizer, conversations: Iterable<readonly Message[]>, readonly opts: SftOptions) {
    if (!(Number.isInteger(opts.maxLength) && opts.maxLength >= 2)) throw new Error(`SftDataset: maxLength must be an integer >= 2, got ${opts.maxLength}`);
    this.seed = opts.seed ?? 0;
    this.shuffle = opts.shuffle ?? true;
    for (const conv of conversations) {
      const { ids, labels } = encodeSft(tok, conv);
      let n = ids.length;
      if (n > opts.maxLength) {
        n = opts.maxLength;
        // the label at position 0 is never predicted (the model shifts), so a kept label must sit at 1..n-1
        if (!labels.slice(1, n).some((l) => l !== -100)) { this.report.dropped++; continue; }
        this.report.truncated++;
      }
      const s: Sample = { inputIds: Int32Array.from(ids.slice(0, n)), labels: Int32Array.from(labels.slice(0, n)) };
      this.samples.push(s);
      this.report.samples++;
      this.report.tokens += n;
      for (let i = 1; i < n; i++) if (s.labels[i] !== -100) this.report.labelTokens++;
    }
    if (this.samples.length === 0) throw new Error(`SftDataset: no usable samples (${this.report.dropped} dropped by maxLength ${opts.maxLength})`);
    if (opts.pack) {
      const packed = packSamples(this.samples, opts.maxLength);
      this.samples = packed.rows;
      this.report.packedRows = packed.report.rows;
      this.report.packFill = packed.report.fill;
    }
  }

  /** Rows per epoch: samples, or packed rows with `pack`. */
  get length(): number { return this.samples.length; }

  sampleAt(epoch: number, index: number, seed = this.seed): Sample {
    if (index < 0 || index >= this.samples.length) throw new Error(`SftDataset: index ${index} outside [0, ${this.samples.length})`);
    const order = this.shuffle ? this.order(epoch, seed) : null;
    return this.samples[order ? order[index] : index];
  }

  private cached: { key: string; perm: Uint32Array } | null = null;
  private order(epoch: number, seed: number): Uint32Array {
    const key = `${epoch}:${seed}`;
    if (this.cached?.key !== key) this.cached = { key, perm: permutation(this.samples.length, mixSeed(seed, epoch)) };
    return this.cached.perm;
  }

  /** SFT samples live in memory: load them with prefetch 0 (no worker reopening). */
  describe(): DatasetDescriptor { return { kind: 'sft-memory', length: this.samples.length }; }
  state(): Cursor { return { epoch: 0, index: 0, seed: this.seed }; }
  close(): void {}
}
