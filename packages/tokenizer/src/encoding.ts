// The HF-like `Encoding` (ids, tokens, offsets, masks) and the truncation / padding options applied to it.
import type { PartEncoding } from './post-processor';

/**
 * One encoded text (or pair). `offsets[i]` is the [start, end) span of token i in UTF-16 code units of the text it
 * came from (JavaScript string indices; the second text of a pair for tokens with type id 1). A token holding only
 * part of a character's UTF-8 bytes spans that whole character, as in HF `tokenizers`. Special tokens added by
 * the post-processor and padding have [0, 0].
 */
export interface Encoding {
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[];
  /** 1 for tokens added by the post-processor (BOS/EOS...) and padding; special tokens written in the text count as 0, as in HF. */
  specialTokensMask: number[];
  /** 0 for the first sequence, 1 for a pair's second (as the template says). */
  typeIds: number[];
}

export interface TruncationOptions {
  /** Total length including the special tokens `addSpecialTokens` adds. */
  maxLength: number;
  /** Which end loses tokens: 'right' keeps the beginning (default), 'left' keeps the end. */
  side?: 'right' | 'left';
}

export interface PaddingOptions {
  /** A fixed length, or 'longest' (the longest in the batch; a single encoding is left as it is). */
  length: number | 'longest';
  /** Where pads go (default 'right'). */
  side?: 'right' | 'left';
  /** Defaults to the id of the tokenizer's pad token. */
  padId?: number;
}

export interface EncodeOptions {
  /** Apply the post-processor's template (or add_bos_token/add_eos_token when there is none). */
  addSpecialTokens?: boolean;
  truncation?: TruncationOptions;
  padding?: PaddingOptions;
  /** A second text, encoded as a pair (HF `encode(a, b)`); the template's `pair` layout applies. */
  pair?: string;
}

/** Cuts `a` to `maxLength` ids from `side`. Pairs are refused: HF's longest-first split of a pair is not reproduced. */
export function truncateParts(a: PartEncoding, b: PartEncoding | null, maxLength: number, side: 'right' | 'left'): void {
  if (b) throw new Error('tokenizer: truncation of a pair (opts.pair) is not supported');
  if (a.ids.length > maxLength) cut(a, maxLength, side);
}

function cut(e: PartEncoding, n: number, side: 'right' | 'left'): void {
  const keys = ['ids', 'tokens', 'offsets', 'specialTokensMask', 'typeIds'] as const;
  for (const k of keys) {
    const arr = e[k] as unknown[];
    if (side === 'right') arr.length = Math.min(arr.length, n);
    else arr.splice(0, Math.max(0, arr.length - n));
  }
}

/** Pads `e` in place to `length` with `padId` / `padToken`. */
export function padEncoding(e: Encoding, length: number, side: 'right' | 'left', padId: number, padToken: string): void {
  const n = length - e.ids.length;
  if (n <= 0) return;
  const fill = <T>(arr: T[], v: () => T) => {
    const pads = Array.from({ length: n }, v);
    if (side === 'right') arr.push(...pads);
    else arr.unshift(...pads);
  };
  fill(e.ids, () => padId);
  fill(e.tokens, () => padToken);
  fill(e.offsets, (): [number, number] => [0, 0]);
  fill(e.attentionMask, () => 0);
  fill(e.specialTokensMask, () => 1);
  fill(e.typeIds, () => 0);
}
