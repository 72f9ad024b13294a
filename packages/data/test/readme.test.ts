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

test('README packing and prompt-set example', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), 2);
  expect(logs[0][0]).toBe('rows');
  expect(logs[0][3]).toBeLessThan(logs[0][1] as number);
  expect(logs[0][5]).toBe(true);
  expect(logs[1]).toEqual(['samples in row 0', true]);
  expect(logs[2][0]).toBe('prompt');
  expect(typeof JSON.parse(logs[2][3] as string)).toBe('string');
});
