// The README's packed-samples example runs as written: sample b inside a packed row equals b alone.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README packing example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), '## Packed samples');
  expect(logs).toEqual([['same as alone', true]]);
});
