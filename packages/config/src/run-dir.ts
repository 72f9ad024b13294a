// Writes the resolved config of a run into its directory (config.yaml, plus the group choices and the
// command-line overrides in overrides.yaml), atomically, so a run can be reproduced from its folder.
import fs from 'node:fs';
import path from 'node:path';
import { toYaml } from './yaml-io';
import type { Composed } from './compose';

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try { fs.writeSync(fd, text); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  fs.renameSync(tmp, file);
}

export function writeResolvedConfig(runDir: string, resolved: unknown, composed: Pick<Composed, 'choices' | 'overrides'>): void {
  fs.mkdirSync(runDir, { recursive: true });
  writeAtomic(path.join(runDir, 'config.yaml'), toYaml(resolved));
  writeAtomic(path.join(runDir, 'overrides.yaml'), toYaml({ choices: composed.choices, overrides: composed.overrides }));
}
