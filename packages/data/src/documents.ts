// Picks the reader for a list of inputs (by --format or by file extension) and yields text documents.
import path from 'node:path';
import { expandInputs } from './files';
import { readParquet } from './parquet';
import { CommonReadOptions, RecordStream, readJsonl, readText } from './readers';

export type DocumentFormat = 'jsonl' | 'text' | 'parquet' | 'auto';

export interface DocumentOptions extends CommonReadOptions {
  format?: DocumentFormat;
  /** JSONL field / Parquet column holding the text (default "text"). */
  field?: string;
  /** How plain text is cut into documents (default "line", as Hugging Face's text loader). */
  unit?: 'line' | 'paragraph' | 'file';
}

const JSONL_EXT = new Set(['.jsonl', '.ndjson', '.json']);

/** `auto` decides by the first file's extension: .jsonl/.ndjson/.json are JSON Lines, .parquet Parquet, anything else text. */
export function resolveFormat(files: readonly string[], format: DocumentFormat = 'auto'): 'jsonl' | 'text' | 'parquet' {
  if (format !== 'auto') return format;
  const ext = path.extname(files[0]).toLowerCase();
  return JSONL_EXT.has(ext) ? 'jsonl' : ext === '.parquet' ? 'parquet' : 'text';
}

export function readDocuments(inputs: string | readonly string[], opts: DocumentOptions = {}): RecordStream<string> {
  const files = expandInputs(inputs);
  const format = resolveFormat(files, opts.format);
  if (format === 'parquet') return readParquet(files, { ...opts, column: opts.field ?? 'text' });
  return format === 'jsonl' ? readJsonl(files, { ...opts, field: opts.field ?? 'text' }) : readText(files, opts);
}
