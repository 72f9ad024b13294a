// The README's example must run as written (compiled with swc, '@stellar/*' resolved to sources).
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'));
  expect(logs).toEqual([
    ['documents', 200],
    ['split documents', true],
    ['batch shape', [4, 32]],
    ['resumed batch equal', true],
  ]);
});

test('README SFT example: built-in tasks, labels only on the assistant answer and its end marker', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), 1);
  expect(logs[0][0]).toBe('held-out');
  expect(String(logs[1][1])).toMatch(/<\|im_end\|>"$/);
  expect(String(logs[1][1])).not.toMatch(/user|im_start/);
});
