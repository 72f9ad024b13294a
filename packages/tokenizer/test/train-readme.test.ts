// The README's "Training on files" example runs as written (runReadmeExample takes a file's first ts block, so the section is cut out first).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README training-on-files example runs', async () => {
  const md = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const section = md.match(/^## Training on files[^\n]*\n[\s\S]*?(?=^## )/m);
  expect(section).not.toBeNull();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-train-readme-')), 'README.md');
  fs.writeFileSync(file, section![0]);
  const logs = await runReadmeExample(file);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  expect(logs).toEqual([
    // Files in sorted order: log.jsonl (text fields; line 2 is malformed), then notes.txt (lines, CRLF -> LF).
    ['text', 'Lights on at dusk.'],
    ['text', 'The keeper slept.'],
    ['text', 'The keeper climbed the steps.\n'],
    ['text', 'The ships came home.\n'],
    ['bad lines', ['log.jsonl:2']],
    ['done', 'count'],
    ['done', 'merge'],
    ['round trip', 'The keeper came home.'],
  ]);
});
