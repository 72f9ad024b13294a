// Command-line flags shared by stellar-serve and stellar-chat: node:util parseArgs plus typed number checks,
// so a bad value is reported with its flag instead of surfacing later as an engine error.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The engine flags both bins take. */
export const ENGINE_FLAGS = {
  model: { type: 'string' },
  adapter: { type: 'string' },
  'max-batch': { type: 'string' },
  'max-context': { type: 'string' },
  threads: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const ENGINE_HELP = [
  '  --model <dir>        model directory in HF layout (config.json, model.safetensors, tokenizer.json); required',
  '  --adapter <dir>      a PEFT LoRA adapter directory, merged into the weights at load',
  '  --max-batch N        sequences decoded together (default 8)',
  '  --max-context N      longest prompt + completion (default: the model\'s max_position_embeddings)',
  '  --threads N          compute threads (default: STELLAR_NUM_THREADS, else the cores)',
];

type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

export function parse<O extends Options>(argv: string[], options: O): Values<O> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A flag as a number (integer >= min when `int`), or undefined when absent. */
export function numberFlag(values: Record<string, unknown>, name: string, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const { int = true, min = int ? 1 : -Infinity, max = Infinity } = opts;
  if (raw === '' || !Number.isFinite(v) || (int && !Number.isInteger(v)) || v < min || v > max) {
    throw new UsageError(`--${name} must be ${int ? 'an integer' : 'a number'}${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` and <= ${max}` : ''}, got "${raw}"`);
  }
  return v;
}

/** The engine load options from the shared flags. */
export function engineOptions(values: Record<string, unknown>) {
  if (typeof values.model !== 'string' || values.model === '') throw new UsageError('--model <dir> is required');
  return {
    model: values.model,
    adapter: values.adapter as string | undefined,
    maxBatch: numberFlag(values, 'max-batch'),
    maxContext: numberFlag(values, 'max-context', { min: 2 }),
    threads: numberFlag(values, 'threads'),
  };
}
