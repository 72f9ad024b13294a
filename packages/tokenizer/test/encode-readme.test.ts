// The README's "Offsets, truncation, padding and batch encoding" example runs as written (its section is cut out
// first, since runReadmeExample takes a file's first ts block).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README encode example runs', async () => {
  const md = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const section = md.match(/^## Offsets, truncation, padding and batch encoding\n[\s\S]*?(?=^## )/m);
  expect(section).not.toBeNull();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-encode-readme-'));
  fs.writeFileSync(path.join(dir, 'README.md'), section![0]);
  const logs = await runReadmeExample(path.join(dir, 'README.md'));
  fs.rmSync(dir, { recursive: true, force: true });
  expect(logs.map((l) => l[0])).toEqual(['spans', 'kept', 'batch']);
  const spans = logs[0][1] as string[];
  // A token with part of a character's bytes spans the whole character, so neighbours can share (or overlap in) it.
  expect(spans).toEqual(['The', ' keep', 'er', ' 🌊', '🌊', ' ', '灯', '灯塔', '塔']);
  const [kept, mask] = [logs[1][1] as string, logs[1][2] as number[]];
  expect('The keeper 🌊 灯塔'.endsWith(kept)).toBe(true);
  expect(mask).toEqual([1, 1, 1, 1, 0, 0]);
  const [[B, T], bmask] = [logs[2][1] as number[], logs[2][2] as number[]];
  expect(B).toBe(3);
  expect(bmask.length).toBe(B * T);
  // left padding: each row's real tokens end the row
  for (let b = 0; b < B; b++) expect(bmask[b * T + T - 1]).toBe(1);
});
