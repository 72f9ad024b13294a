// The README's autocast example runs as written and prints what it says.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README autocast example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), 'Mixed precision: autocast');
  expect(logs).toEqual([['float32', null], ['float32'], [true]]);
});
