// The README's INT8 example runs as written and prints what it says.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README INT8 example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), 'INT8 weights');
  expect(logs).toEqual([['int8', true, 5]]);
});
