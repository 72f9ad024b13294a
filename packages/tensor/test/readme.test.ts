// The README's example must run as written (compiled with swc, '@stellar/*' resolved to sources).
import fs from 'node:fs';
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'));
  expect(logs.length).toBe(10);
  const losses = logs.map((l) => Number(String(l[1])));
  expect(losses[9]).toBeLessThan(losses[0]);
  expect(fs.existsSync(path.join(__dirname, '..', 'README.md'))).toBe(true);
});
