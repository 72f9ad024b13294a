// The README example trains: the loss falls and the lr follows the schedule.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README example runs, the loss falls and the lr decays', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'));
  expect(logs.length).toBe(4);
  const losses = logs.map((l) => Number(l[3])), lrs = logs.map((l) => Number(l[5]));
  expect(losses[3]).toBeLessThan(losses[0] - 0.5);
  expect(lrs[3]).toBeLessThan(lrs[1]);
});

test('README metrics example writes metrics.jsonl, a TensorBoard file and the plots', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), 1);
  expect(logs[0][0]).toEqual(['events.out.tfevents.*', 'loss.png', 'lr.png', 'metrics.jsonl']);
  expect(logs[1][0]).toBe('0.50');
  expect(logs[2][0]).toBe('PNG');
});

test('README data-parallel example runs as a world of one', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), '## Data-parallel');
  expect(String(logs[0][0])).toMatch(/^rank 0 of 1: loss \d\.\d{3} -> \d\.\d{3}$/);
});
