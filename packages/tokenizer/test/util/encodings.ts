// Loads test/fixtures/encodings.json, written by tools/fixtures/make_tokenizer_encodings.py from HF `tokenizers`.
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES } from './fixtures';

export interface HfEncoding {
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  attention_mask: number[];
  special_tokens_mask: number[];
  type_ids: number[];
}

export interface PostCase {
  base: 'hf-gpt2' | 'hf-gpt4';
  add_prefix_space: boolean;
  post_processor: string;
  setting: string;
  truncation: { max_length: number; direction: 'left' | 'right' } | null;
  padding: { length: number; direction: 'left' | 'right' } | null;
  add_special_tokens: boolean;
  single: HfEncoding[];
  pairs: HfEncoding[];
}

export interface RealCase {
  text: string;
  ids: number[];
  offsets: [number, number][];
  ids_special: number[];
}

export interface EncodingsFixture {
  format: string;
  version: number;
  corpus: string[];
  short: string[];
  pairs: [string, string][];
  processors: Record<string, unknown>;
  real: Record<'llama3' | 'qwen3', { package: string; sha256: string; cases: RealCase[] }>;
  /** The real Llama-3 file with the BOS TemplateProcessing post-processor later Llama-3 releases ship. */
  llama3_template: { post_processor: unknown; single: HfEncoding[]; pairs: HfEncoding[] };
  post: PostCase[];
  batch_longest: { direction: 'left' | 'right'; ids: number[][]; attention_mask: number[][] }[];
}

export function readEncodings(): EncodingsFixture {
  const g = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'encodings.json'), 'utf8')) as EncodingsFixture;
  if (g.format !== 'stellar-tokenizer-encodings' || g.version !== 1) throw new Error(`encodings.json: format ${g.format} v${g.version}, expected stellar-tokenizer-encodings v1`);
  return g;
}

/** The committed small tokenizer.json `base` with `post_processor` (and ByteLevel add_prefix_space) replaced. */
export function baseJson(base: string, postProcessor: unknown, addPrefixSpace = false): Record<string, unknown> {
  const j = JSON.parse(fs.readFileSync(path.join(FIXTURES, base, 'tokenizer.json'), 'utf8'));
  j.post_processor = postProcessor;
  if (addPrefixSpace) j.pre_tokenizer.add_prefix_space = true;
  return j;
}
