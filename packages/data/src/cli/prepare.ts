#!/usr/bin/env node
// The `stellar-data prepare` command: text/JSONL files -> token shards + manifest.json, with a count summary.
import { parseArgs } from 'node:util';
import { loadTokenizer } from '@stellar/tokenizer';
import { pretokenize, defaultWorkers } from '../pretokenize';
import { builtinCorpus } from '../builtin/corpus';

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

export const HELP = `Usage: stellar-data prepare --tokenizer <dir> --out <dir> [options] <file|dir|glob|builtin>...

Tokenizes documents with a saved tokenizer (tokenizer.json directory), appends the EOS token to each,
and writes token shards plus manifest.json to --out. Quote globs ('data/**/*.jsonl'). The input
\`builtin\` is the built-in pretraining text (State of the Union + Moby-Dick, one document per file).

Options:
  --tokenizer <dir>        directory with tokenizer.json (+ tokenizer_config.json); needs an eos_token
  --out <dir>              output directory for shard-*.bin and manifest.json (required)
  --format <f>             auto (by extension: .jsonl/.ndjson/.json are JSONL, .parquet Parquet),
                           jsonl, text or parquet (default auto)
  --field <name>           JSONL field or Parquet column holding the text (default text)
  --unit <u>               plain text documents: line, paragraph or file (default line)
  --val-fraction <f>       fraction of documents the pretraining dataset holds out for validation,
                           recorded in the manifest (split by document at load time; default 0)
  --shard-tokens <n>       tokens per shard (default 16777216)
  --workers <n>            worker threads that encode (default ${defaultWorkers()}: one per core but one,
                           as the main thread encodes too; 0 = main thread only)
  --skip-bad-records       skip malformed JSONL lines / null Parquet values (counted, first 10 shown)
                           instead of failing
  --overwrite              replace an existing shard set in --out
  --quiet                  no progress bar
  -h, --help               show this help

Exit codes: 0 done, 1 failed (unreadable or malformed input), 2 bad arguments.
`;

class UsageError extends Error {}

function num(name: string, v: string | undefined, def: number, ok: (x: number) => boolean): number {
  if (v === undefined) return def;
  const x = Number(v);
  if (v.trim() === '' || !ok(x)) throw new UsageError(`--${name}: invalid value ${JSON.stringify(v)}`);
  return x;
}

/** Runs the command; returns the exit code instead of exiting, so tests can call it in-process. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  // `stellar-data prepare ...` and `stellar-data ...` are the same command (the only one so far).
  const args = argv[0] === 'prepare' ? argv.slice(1) : argv;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        tokenizer: { type: 'string' },
        out: { type: 'string' },
        format: { type: 'string' },
        field: { type: 'string' },
        unit: { type: 'string' },
        'val-fraction': { type: 'string' },
        'shard-tokens': { type: 'string' },
        workers: { type: 'string' },
        'skip-bad-records': { type: 'boolean' },
        overwrite: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const o = parsed.values;
  if (o.help) {
    io.stdout.write(HELP);
    return 0;
  }
  let settings;
  try {
    if (!o.tokenizer) throw new UsageError('--tokenizer is required');
    if (!o.out) throw new UsageError('--out is required');
    if (parsed.positionals.length === 0) throw new UsageError('no input files given');
    if (parsed.positionals.includes('builtin') && parsed.positionals.length > 1) throw new UsageError('`builtin` cannot be mixed with other inputs (prepare them separately)');
    const format = o.format ?? 'auto';
    if (!['auto', 'jsonl', 'text', 'parquet'].includes(format)) throw new UsageError(`--format must be auto, jsonl, text or parquet, got ${JSON.stringify(format)}`);
    const unit = o.unit ?? 'line';
    if (!['line', 'paragraph', 'file'].includes(unit)) throw new UsageError(`--unit must be line, paragraph or file, got ${JSON.stringify(unit)}`);
    settings = {
      format: format as 'auto' | 'jsonl' | 'text' | 'parquet',
      unit: unit as 'line' | 'paragraph' | 'file',
      valFraction: num('val-fraction', o['val-fraction'], 0, (x) => x >= 0 && x < 1),
      shardTokens: num('shard-tokens', o['shard-tokens'], 1 << 24, (x) => Number.isInteger(x) && x >= 1),
      numWorkers: num('workers', o.workers, defaultWorkers(), (x) => Number.isInteger(x) && x >= 0),
    };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`error: ${e.message}\n\n${HELP}`);
    return 2;
  }
  try {
    const tok = loadTokenizer(o.tokenizer!);
    // `builtin` alone: the built-in corpus, each file one document
    const builtin = parsed.positionals.includes('builtin');
    const inputs = builtin ? builtinCorpus().files : parsed.positionals;
    const s = await pretokenize(inputs, tok, o.out!, {
      ...settings,
      ...(builtin ? { format: 'text' as const, unit: 'file' as const } : {}),
      field: o.field ?? 'text',
      onBadRecord: o['skip-bad-records'] ? 'skip' : 'fail',
      overwrite: o.overwrite ?? false,
      progress: !o.quiet && io.stderr.isTTY === true,
      meta: { valFraction: settings.valFraction, inputs: parsed.positionals },
    });
    const m = s.manifest;
    io.stdout.write(
      [
        `documents: ${s.documents}`,
        `tokens: ${s.tokens}`,
        `dropped records: ${s.droppedRecords}`,
        ...s.badRecords.messages.map((msg) => `  ${msg}`),
        `shards: ${m.shards.length} (${m.dtype}, vocab ${m.vocabSize}) in ${o.out}`,
        `validation fraction: ${settings.valFraction} (documents are split when the dataset is opened)`,
        `seconds: ${s.seconds.toFixed(2)}`,
        `MB/s: ${s.mbPerSecond.toFixed(2)}`,
      ].join('\n') + '\n',
    );
    return 0;
  } catch (e) {
    io.stderr.write(`error: ${(e as Error).message}\n`);
    return 1;
  }
}

if (typeof require !== 'undefined' && require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
