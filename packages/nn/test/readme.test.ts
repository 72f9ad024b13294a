// The README's example must run as written and actually train.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README example runs and the loss falls', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'));
  expect(logs[0][0]).toBe('parameters');
  expect(logs[0][1]).toBe(32 * 32 * 2 + 2 * (32 * 32 * 2 + 16 * 32 * 2 + 64 * 32 * 3 + 64) + 32);
  const losses = logs.slice(1).map((l) => Number(l[3]));
  expect(losses.length).toBe(3);
  expect(losses[0]).toBeLessThan(Math.log(32));
  expect(losses[2]).toBeLessThan(losses[0]);
});

test('README generation example: ragged greedy batch, reproducible sampling, manual cache loop equals generate', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), '## Generation');
  expect(logs[0]).toEqual(['greedy', [5, 5, 5], ['length', 'length', 'length']]);
  expect(logs[1]).toEqual(['reproducible', true]);
  expect(logs[2]).toEqual(['same as generate', true]);
});
