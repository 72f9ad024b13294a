// What the RLHF stages read: preference pairs (built-in task answers vs plausible wrong ones and/or
// JSONL {prompt, chosen, rejected[, margin]}) with a held-out split, and rollout prompts (built-in task
// prompts and/or JSONL {prompt, reference?, task?}) with the rule reward that checks their answers.
import { PromptDataset, TASKS, builtinPreferences, builtinPrompts, encodePreference, expandInputs, isCorrect, parsePreference, parsePrompt, readJsonl, type PromptItem, type PromptRecord, type TaskName } from '@stellar/data';
import type { PreferencePair } from '@stellar/train';
import type { Tokenizer } from '@stellar/tokenizer';
import type { RunConfig } from '../schema';

export interface PairSplits { train: PreferencePair[]; test: PreferencePair[]; dropped: number }

async function jsonlRecords<T>(files: string[], d: RunConfig['data'], parse: (r: unknown) => T, say: (s: string) => void, what: string): Promise<{ rec: T; raw: Record<string, unknown> }[]> {
  if (!files.length) return [];
  const out: { rec: T; raw: Record<string, unknown> }[] = [];
  const stream = readJsonl(expandInputs(files), { onBadRecord: d.on_bad_record });
  for await (const r of stream) {
    try { out.push({ rec: parse(r.value), raw: r.value as Record<string, unknown> }); } catch (e) {
      if (d.on_bad_record === 'fail') throw new Error(`${r.source}: ${(e as Error).message}`);
      stream.report.add(r.source, (e as Error).message);
    }
  }
  if (stream.report.count) say(`${what}: ${String(stream.report)}`);
  return out;
}

/** Encoded pairs: built-in train/test splits plus JSONL files (all train). Pairs cut to maxLength that lose their answer are dropped. */
export async function preferencePairs(cfg: RunConfig, tok: Tokenizer, maxLength: number, say: (s: string) => void): Promise<PairSplits> {
  const d = cfg.data;
  const out: PairSplits = { train: [], test: [], dropped: 0 };
  const add = (to: PreferencePair[], rec: ReturnType<typeof parsePreference>, margin?: number) => {
    const e = encodePreference(tok, rec, maxLength);
    if (!e) { out.dropped++; return; }
    to.push(margin === undefined ? { chosen: e.chosen, rejected: e.rejected } : { chosen: e.chosen, rejected: e.rejected, margin });
  };
  if (d.preferences.includes('builtin')) {
    const b = builtinPreferences({ seed: cfg.seed, perTask: d.rl_per_task });
    for (const s of b.train) add(out.train, parsePreference(s));
    for (const s of b.test) add(out.test, parsePreference(s));
  }
  const recs = await jsonlRecords(d.preferences.filter((s) => s !== 'builtin'), d, parsePreference, say, 'preference data');
  for (const { rec, raw } of recs) add(out.train, rec, typeof raw.margin === 'number' ? raw.margin : undefined);
  if (!out.train.length) throw new Error('no preference pairs (data.preferences lists no usable source)');
  return out;
}

export interface RlPrompt extends PromptItem { task: TaskName | null }

/** Prompts as a resumable PromptDataset whose items know their task (for the rule reward). */
export async function rolloutPrompts(cfg: RunConfig, tok: Tokenizer, say: (s: string) => void): Promise<{ ds: PromptDataset; tasks: (TaskName | null)[] }> {
  const d = cfg.data;
  const records: PromptRecord[] = [], tasks: (TaskName | null)[] = [];
  if (d.prompts.includes('builtin')) {
    for (const p of builtinPrompts({ seed: cfg.seed, perTask: d.rl_per_task }).train) {
      records.push({ messages: [{ role: 'user', content: p.prompt }], reference: p.reference });
      tasks.push(p.task);
    }
  }
  for (const { rec, raw } of await jsonlRecords(d.prompts.filter((s) => s !== 'builtin'), d, parsePrompt, say, 'prompt data')) {
    records.push(rec);
    tasks.push(TASKS.includes(raw.task as TaskName) ? raw.task as TaskName : null);
  }
  if (!records.length) throw new Error('no prompts (data.prompts lists no usable source)');
  const ds = new PromptDataset(tok, records, { maxPromptLength: cfg.rollout.max_prompt_len, seed: cfg.seed });
  say(`prompts: ${ds.report.prompts} (${ds.report.dropped} longer than rollout.max_prompt_len dropped, ${ds.report.withReference} with a reference answer)`);
  return { ds, tasks };
}

/** 1 if the response answers the prompt's reference (the task's checker, else a trimmed case-insensitive match), else 0. */
export function ruleReward(tasks: readonly (TaskName | null)[]): (item: PromptItem, text: string) => number {
  return (item, text) => {
    if (item.reference === null) throw new Error(`rollout.reward=rule: prompt ${item.index} has no reference answer (use rollout.reward=model)`);
    const task = tasks[item.index];
    if (task) return isCorrect(task, text, item.reference) ? 1 : 0;
    return text.trim().toLowerCase() === item.reference.trim().toLowerCase() ? 1 : 0;
  };
}
