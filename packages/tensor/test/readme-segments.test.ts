// The README's packed-samples example runs as written and prints what it says.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README segment ids example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), 'Packed samples: attention segment ids');
  expect(logs).toEqual([[true]]);
});
