// The README's RLHF example runs and GRPO raises the reward it prints.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README RLHF example: GRPO raises the mean reward', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), '## RLHF');
  expect(logs.length).toBe(3);
  const rewards = logs.map((l) => Number(l[3]));
  expect(rewards[2]).toBeGreaterThan(rewards[0] + 0.2);
});
