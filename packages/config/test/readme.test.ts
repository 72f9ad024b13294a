// The README example runs as written: composition with a group swap and a value override, and the
// unknown-key error listing the allowed keys.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README example composes, overrides and rejects an unknown key', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'));
  expect(logs[0]).toEqual(['demo-512', 512, 3e-4]);
  expect(logs[1]).toEqual([7, 'lines of YAML']);   // name, model: dim layers, train: lr steps
  expect(logs[2][0]).toBe('unknown config key "train.lrr"; allowed in train: lr, steps');
});
