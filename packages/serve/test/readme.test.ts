// The README example runs: streaming, concurrent seeded requests, chat, and the worker client.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'));
  expect(logs.map((l) => l[0])).toEqual(['model', 'done', 'same seed, same tokens', 'worker']);
  expect(logs[0].slice(1)).toEqual([128, expect.any(Number)]);
  expect(logs[1].slice(1)).toEqual(['length', 8, true]);
  expect(logs[2][1]).toBe(true);
  expect(logs[3][1]).toBe(true);
});
