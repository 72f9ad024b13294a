// Text sources of a run: "builtin" (the State of the Union + Moby-Dick corpus of @stellar/data,
// one document per file) and/or user files read as text lines or JSONL records.
import fs from 'node:fs';
import { builtinCorpus, readJsonl, readText, BadRecordReport, resolveFormat, expandInputs } from '@stellar/data';
import type { RunConfig } from './schema';

export interface TextSource { texts: AsyncIterable<string>; /** Filled while reading: bad records skipped per input stream. */ reports: BadRecordReport[] }

export function pretrainTexts(d: RunConfig['data']): TextSource {
  const builtin = d.pretrain.includes('builtin');
  const files = d.pretrain.filter((s) => s !== 'builtin');
  const reports: BadRecordReport[] = [];
  async function* gen(): AsyncGenerator<string> {
    if (builtin) for (const f of builtinCorpus().files) yield fs.readFileSync(f, 'utf8');
    if (!files.length) return;
    const list = expandInputs(files);
    const fmt = resolveFormat(list, d.format);
    const stream = fmt === 'jsonl' ? readJsonl(list, { field: d.field, onBadRecord: d.on_bad_record }) : readText(list, { unit: 'line' });
    reports.push(stream.report);
    for await (const r of stream) yield r.value;
  }
  return { texts: gen(), reports };
}
