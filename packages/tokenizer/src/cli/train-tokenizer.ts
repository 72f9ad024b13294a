#!/usr/bin/env node
// The `train-tokenizer` command: train byte-level BPE on text/JSONL files, save HF files, report compression on a held-out slice.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readCorpus, type CorpusFormat, type CorpusOptions } from '../corpus/read';
import { saveTokenizer } from '../hf-format';
import { compilePattern, splitPattern, type PatternName } from '../pretokenize';
import type { Tokenizer } from '../tokenizer';
import { DEFAULT_SPECIAL_TOKENS, trainBpe, type TrainProgress } from '../train';
import { fmtMB, progressReporter, type ProgressSink } from './progress';

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: ProgressSink;
}

/** Compression is measured on at most this many bytes of the held-out slice, to bound the time it takes. */
const HOLDOUT_EVAL_MAX_BYTES = 64 * 1024 * 1024;

export const HELP = `Usage: train-tokenizer [options] <file|dir|glob>...

Trains a byte-level BPE tokenizer and writes tokenizer.json, tokenizer_config.json and
special_tokens_map.json (Hugging Face format) to --out. Plain-text files give one text per line;
.jsonl/.ndjson files give the --text-field of each line. Quote globs ('data/**/*.txt').

Options:
  --out <dir>              output directory (required)
  --vocab-size <n>         final vocabulary size, special tokens included (default 8192)
  --min-frequency <n>      never merge pairs seen fewer times (default 0)
  --pattern <p>            split pattern: gpt2, gpt4, qwen2 or a regex (default gpt4)
  --digits                 split every digit into its own piece (with gpt2/gpt4/qwen2)
  --special-tokens <a,b>   reserved tokens, ids 0.. in order
                           (default ${DEFAULT_SPECIAL_TOKENS.join(',')}; '' for none)
  --bos-token <t>          bos_token in tokenizer_config.json (must be a special token)
  --eos-token <t>          eos_token (default <|endoftext|> when it is a special token)
  --pad-token <t>          pad_token (default <|pad|> when it is a special token)
  --format <f>             auto (by extension), text or jsonl (default auto)
  --text-field <name>      JSONL field holding the text (default text)
  --skip-bad-lines         skip malformed JSONL lines (counted, first few shown) instead of failing
  --threads <n>            word-counting threads (default ${os.availableParallelism()}, this machine's cores)
  --max-words <n>          cap on distinct pieces held while counting; past it rare pieces are
                           dropped and the result becomes approximate (default: no cap)
  --holdout <f>            fraction of the input (by bytes, at the end) kept out of training and
                           used to measure chars per token (default 0.05)
  --quiet                  no progress output
  -h, --help               show this help

Exit codes: 0 done, 1 training failed (unreadable or malformed input), 2 bad arguments.
`;

class UsageError extends Error {}

function int(name: string, v: string | undefined, def: number, min: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return Number(v);
}

interface Settings {
  inputs: string[];
  out: string;
  vocabSize: number;
  minFrequency: number;
  pattern: string;
  specialTokens: string[];
  bosToken: string | null;
  eosToken: string | null;
  padToken: string | null;
  corpus: CorpusOptions;
  threads: number;
  maxWords: number | undefined;
  holdout: number;
  quiet: boolean;
}

function parse(argv: string[]): Settings | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        out: { type: 'string' },
        'vocab-size': { type: 'string' },
        'min-frequency': { type: 'string' },
        pattern: { type: 'string' },
        digits: { type: 'boolean' },
        'special-tokens': { type: 'string' },
        'bos-token': { type: 'string' },
        'eos-token': { type: 'string' },
        'pad-token': { type: 'string' },
        format: { type: 'string' },
        'text-field': { type: 'string' },
        'skip-bad-lines': { type: 'boolean' },
        threads: { type: 'string' },
        'max-words': { type: 'string' },
        holdout: { type: 'string' },
        quiet: { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (parsed.positionals.length === 0) throw new UsageError('no input files given');
  if (!v.out) throw new UsageError('--out <dir> is required');

  const specialTokens = v['special-tokens'] === undefined ? DEFAULT_SPECIAL_TOKENS : v['special-tokens'].split(',').filter((t) => t.length > 0);
  if (new Set(specialTokens).size !== specialTokens.length) throw new UsageError('--special-tokens has duplicates');
  const role = (name: string, given: string | undefined, def: string | null): string | null => {
    if (given === undefined) return def !== null && specialTokens.includes(def) ? def : null;
    if (!specialTokens.includes(given)) throw new UsageError(`--${name} ${JSON.stringify(given)} is not one of the special tokens`);
    return given;
  };

  const vocabSize = int('vocab-size', v['vocab-size'], 8192, 256 + specialTokens.length + 1);
  let pattern: string;
  const p = v.pattern ?? 'gpt4';
  if (p === 'gpt2' || p === 'gpt4' || p === 'qwen2') pattern = splitPattern(p as PatternName, { individualDigits: v.digits ?? false });
  else {
    if (v.digits) throw new UsageError('--digits only applies to the named patterns gpt2, gpt4 and qwen2');
    try {
      compilePattern(p);
    } catch (e) {
      throw new UsageError(`--pattern: ${(e as Error).message}`);
    }
    pattern = p;
  }
  const format = v.format ?? 'auto';
  if (!['auto', 'text', 'jsonl'].includes(format)) throw new UsageError(`--format must be auto, text or jsonl, got ${JSON.stringify(format)}`);
  const holdout = v.holdout === undefined ? 0.05 : Number(v.holdout);
  if (!(v.holdout === undefined || /^\s*[\d.eE+-]+\s*$/.test(v.holdout)) || !(holdout >= 0 && holdout < 1)) {
    throw new UsageError(`--holdout must be a number in [0, 1), got ${JSON.stringify(v.holdout)}`);
  }
  const maxWords = v['max-words'] === undefined ? undefined : int('max-words', v['max-words'], 0, 1);
  return {
    inputs: parsed.positionals,
    out: v.out,
    vocabSize,
    minFrequency: int('min-frequency', v['min-frequency'], 0, 0),
    pattern,
    specialTokens,
    bosToken: role('bos-token', v['bos-token'], null),
    eosToken: role('eos-token', v['eos-token'], '<|endoftext|>'),
    padToken: role('pad-token', v['pad-token'], '<|pad|>'),
    corpus: { format: format as CorpusFormat, textField: v['text-field'] ?? 'text', onBadLine: v['skip-bad-lines'] ? 'skip' : 'fail' },
    threads: int('threads', v.threads, os.availableParallelism(), 1),
    maxWords,
    holdout,
    quiet: v.quiet ?? false,
  };
}

/** Runs the command; resolves to the exit code (it never calls process.exit, so it can be tested in-process). */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let s: Settings | 'help';
  let train;
  try {
    s = parse(argv);
    if (s === 'help') {
      io.stdout.write(HELP);
      return 0;
    }
    // Resolving the inputs here turns a path that matches nothing into a usage error.
    train = readCorpus(s.inputs, { ...s.corpus, slice: [0, 1 - s.holdout] });
  } catch (e) {
    io.stderr.write(`train-tokenizer: ${(e as Error).message}\nRun train-tokenizer --help for usage.\n`);
    return 2;
  }

  try {
    let counted: Extract<TrainProgress, { phase: 'count' }> | null = null;
    let merged: Extract<TrainProgress, { phase: 'merge' }> | null = null;
    const report = s.quiet ? null : progressReporter(io.stderr);
    const tok = await trainBpe(train, {
      vocabSize: s.vocabSize,
      minFrequency: s.minFrequency,
      pattern: s.pattern,
      specialTokens: s.specialTokens,
      bosToken: s.bosToken,
      eosToken: s.eosToken,
      padToken: s.padToken,
      numThreads: s.threads,
      maxWords: s.maxWords,
      onProgress: (p) => {
        if (p.phase === 'count' && p.done) counted = p;
        if (p.phase === 'merge' && p.done) merged = p;
        report?.(p);
      },
    });
    saveTokenizer(tok, s.out);
    const held = s.holdout > 0 ? await holdoutCompression(tok, s) : null;

    const c = counted as Extract<TrainProgress, { phase: 'count' }> | null;
    const m = merged as Extract<TrainProgress, { phase: 'merge' }> | null;
    const stats = train.stats;
    const trainBytes = c?.bytesRead ?? 0;
    const badLines = stats.badLines + (held?.badLines ?? 0);
    if (badLines > 0) {
      io.stderr.write(`train-tokenizer: skipped ${badLines} malformed line(s), first ones:\n`);
      for (const msg of [...stats.badLineMessages, ...(held?.badLineMessages ?? [])].slice(0, 5)) io.stderr.write(`  ${msg}\n`);
    }
    const countS = (c?.elapsedMs ?? 0) / 1000;
    const mergeS = (m?.elapsedMs ?? 0) / 1000;
    const lines = [
      `vocab size:    ${tok.vocabSize} (${s.specialTokens.length} special, 256 bytes, ${tok.merges.length} merges)`,
      `training data: ${c?.texts ?? 0} texts, ${fmtMB(trainBytes)} from ${stats.files.length} file(s)` +
        (c?.pruned ? `; --max-words dropped ${c.pruned} rare pieces, counts are approximate` : ''),
      `counting:      ${countS.toFixed(2)} s (${(trainBytes / 1024 / 1024 / Math.max(countS, 1e-9)).toFixed(1)} MB/s, ${c?.threads ?? 1} thread(s), ${c?.words ?? 0} distinct pieces)`,
      `merging:       ${mergeS.toFixed(2)} s (${((m?.merges ?? 0) / Math.max(mergeS, 1e-9)).toFixed(0)} merges/s)`,
      held === null
        ? 'held out:      nothing (--holdout 0)'
        : held.tokens === 0
          ? 'held out:      no text starts in the held-out slice'
          : `held out:      ${held.texts} texts, ${fmtMB(held.bytes)}: ${(held.chars / held.tokens).toFixed(3)} chars/token, ${(held.bytes / held.tokens).toFixed(3)} bytes/token` +
            (held.capped ? ` (first ${fmtMB(HOLDOUT_EVAL_MAX_BYTES)} of the slice)` : ''),
      `saved:         ${path.join(s.out, 'tokenizer.json')} (+ tokenizer_config.json, special_tokens_map.json)`,
    ];
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  } catch (e) {
    io.stderr.write(`\ntrain-tokenizer: ${(e as Error).message}\n`);
    return 1;
  }
}

interface Holdout {
  texts: number;
  chars: number;
  bytes: number;
  tokens: number;
  capped: boolean;
  badLines: number;
  badLineMessages: string[];
}

/** Encodes the held-out slice (streamed) and counts code points, UTF-8 bytes and tokens. */
async function holdoutCompression(tok: Tokenizer, s: Settings): Promise<Holdout> {
  const reader = readCorpus(s.inputs, { ...s.corpus, slice: [1 - s.holdout, 1] });
  const h: Holdout = { texts: 0, chars: 0, bytes: 0, tokens: 0, capped: false, badLines: 0, badLineMessages: [] };
  for await (const text of reader) {
    if (h.bytes >= HOLDOUT_EVAL_MAX_BYTES) {
      h.capped = true;
      break;
    }
    h.texts++;
    h.tokens += tok.encode(text).length;
    h.bytes += Buffer.byteLength(text);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // A surrogate pair is one character.
      if (c < 0xd800 || c > 0xdbff) h.chars++;
    }
  }
  h.badLines = reader.stats.badLines;
  h.badLineMessages = reader.stats.badLineMessages;
  return h;
}

if (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
