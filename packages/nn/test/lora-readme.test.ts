// The README's LoRA example runs as written: only the adapters train, the loss falls, the saved
// adapter directory has PEFT's two files, and the merged reloaded model gives the adapter's logits.
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

test('README LoRA example runs', async () => {
  const logs = await runReadmeExample(path.join(__dirname, '..', 'README.md'), '## LoRA');
  // q_proj: A (4, 32) + B (32, 4); v_proj (2 KV heads of 8): A (4, 32) + B (16, 4); two layers
  expect(logs[0].slice(0, 2)).toEqual(['trainable', 2 * (4 * 32 + 32 * 4 + 4 * 32 + 16 * 4)]);
  const losses = logs.slice(1, 4).map((l) => Number(l[3]));
  expect(losses[2]).toBeLessThan(losses[0] - 0.1);
  expect(logs[4]).toEqual(['files', 'adapter_config.json adapter_model.safetensors']);
  expect(logs[5][0]).toBe('max |merged - adapter| logit');
  expect(logs[5][1]).toBeLessThan(1e-4);
});
