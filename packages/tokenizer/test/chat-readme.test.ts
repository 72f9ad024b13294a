// The README's "Chat templates" example runs as written (runReadmeExample takes a file's first ts block, so the section is cut out first).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README chat example runs', async () => {
  const md = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const section = md.match(/^## Chat templates\n[\s\S]*?(?=^## )/m);
  expect(section).not.toBeNull();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-chat-readme-')), 'README.md');
  fs.writeFileSync(file, section![0]);
  const logs = await runReadmeExample(file);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  expect(logs).toEqual([
    ['prompt', '<|im_start|>system\nYou keep the lighthouse.<|im_end|>\n<|im_start|>user\nAny ships tonight?<|im_end|>\n<|im_start|>assistant\n'],
    ['trained on', 'Two, both home. 🚢<|im_end|>'],
  ]);
});
