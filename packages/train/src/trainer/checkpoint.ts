// Checkpoints of a training run, written atomically (a temp directory with fsynced files renamed into
// place, the parent fsynced), keeping the last K: model weights, optimizer buffers and trainer state
// (step, RNG states, data cursor, ...) so a killed run resumes exactly.
import fs from 'node:fs';
import path from 'node:path';
import { Tensor, loadSafetensors, saveSafetensors } from '@stellar/tensor';

export interface CheckpointContent {
  model: Map<string, Tensor>;
  optimizer: Map<string, Tensor>;
  /** JSON-safe: step, optimizer meta, generator states, data cursor, schedule, metrics so far. */
  state: Record<string, unknown>;
}

const NAME = /^step-(\d{8})$/;
const dirName = (step: number) => `step-${String(step).padStart(8, '0')}`;

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

/** Writes `<root>/step-NNNNNNNN/` and removes the oldest beyond `keepLast`. Returns the directory. */
export function saveCheckpoint(root: string, step: number, c: CheckpointContent, keepLast = 3): string {
  fs.mkdirSync(root, { recursive: true });
  const final = path.join(root, dirName(step));
  const tmp = path.join(root, `.tmp-${dirName(step)}-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  saveSafetensors(path.join(tmp, 'model.safetensors'), c.model, { format: 'pt' });
  saveSafetensors(path.join(tmp, 'optimizer.safetensors'), c.optimizer, { format: 'pt' });
  const st = path.join(tmp, 'trainer_state.json');
  fs.writeFileSync(st, JSON.stringify({ ...c.state, step }, null, 2) + '\n');
  for (const f of fs.readdirSync(tmp)) fsyncPath(path.join(tmp, f));
  fsyncPath(tmp);
  fs.rmSync(final, { recursive: true, force: true });   // a re-save of the same step replaces it
  fs.renameSync(tmp, final);
  fsyncPath(root);
  const all = listCheckpoints(root);
  for (const s of all.slice(0, Math.max(0, all.length - keepLast))) fs.rmSync(path.join(root, dirName(s)), { recursive: true, force: true });
  return final;
}

/** Steps of the complete checkpoints under root, ascending (temp directories of interrupted saves are ignored). */
export function listCheckpoints(root: string): number[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).map((f) => NAME.exec(f)).filter((m): m is RegExpExecArray => !!m)
    .filter((m) => fs.existsSync(path.join(root, m[0], 'trainer_state.json'))).map((m) => Number(m[1])).sort((a, b) => a - b);
}

export function latestCheckpoint(root: string): string | null {
  const s = listCheckpoints(root);
  return s.length ? path.join(root, dirName(s[s.length - 1])) : null;
}

export function loadCheckpoint(dir: string): CheckpointContent {
  const read = (f: string) => {
    const p = path.join(dir, f);
    if (!fs.existsSync(p)) throw new Error(`checkpoint ${dir} is incomplete: ${f} is missing`);
    return p;
  };
  let state: Record<string, unknown>;
  try { state = JSON.parse(fs.readFileSync(read('trainer_state.json'), 'utf8')); } catch (e) { throw new Error(`checkpoint ${dir}: trainer_state.json is unreadable (${(e as Error).message})`); }
  return { model: loadSafetensors(read('model.safetensors')).tensors, optimizer: loadSafetensors(read('optimizer.safetensors')).tensors, state };
}
