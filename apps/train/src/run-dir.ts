// Run directories: runs/<stage>/<timestamp>/ for a new run, or the newest one of the stage for
// `resume=latest` (the trainer then continues from its last checkpoint).
import fs from 'node:fs';
import path from 'node:path';

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');

export function newRunDir(root: string, stage: string, name = ''): string {
  const base = path.join(root, name || stage);
  let dir = path.join(base, stamp());
  for (let i = 1; fs.existsSync(dir); i++) dir = path.join(base, `${stamp()}-${i}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** `resume`: "" (new run), "latest" (newest run of the stage), or an existing run directory. */
export function resolveRunDir(root: string, stage: string, name: string, resume: string): { dir: string; resumed: boolean } {
  if (!resume) return { dir: newRunDir(root, stage, name), resumed: false };
  if (resume !== 'latest') {
    if (!fs.existsSync(path.join(resume, 'config.yaml'))) throw new Error(`resume=${resume}: not a run directory (no config.yaml)`);
    return { dir: resume, resumed: true };
  }
  const base = path.join(root, name || stage);
  const runs = fs.existsSync(base) ? fs.readdirSync(base).filter((d) => fs.existsSync(path.join(base, d, 'checkpoints'))).sort() : [];
  if (!runs.length) throw new Error(`resume=latest: no run of "${name || stage}" with checkpoints under ${base}`);
  return { dir: path.join(base, runs[runs.length - 1]), resumed: true };
}
