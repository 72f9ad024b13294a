// The README's example must run as written.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README example runs and computes exp in place', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'));
  expect(logs.length).toBe(1);
  const out = logs[0][0] as Float32Array;
  Array.from(out).forEach((v, i) => expect(Math.abs(v / Math.exp(i + 1) - 1)).toBeLessThan(1e-6));
});
