// The README's example must run as written (compiled with swc, '@stellar/*' resolved to sources).
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'));
  expect(logs.map((l) => l[0])).toEqual(['ids', 'round trip', 'same ids after reload']);
  const ids = logs[0][1] as number[];
  expect(ids[0]).toBe(1); // <|im_start|>
  expect(ids[ids.length - 1]).toBe(2); // <|im_end|>
  expect(logs[1][1]).toBe(true);
  expect(logs[2][1]).toBe(true);
});
