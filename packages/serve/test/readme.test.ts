// The README examples run: the engine (streaming, concurrent seeded requests, chat, the worker client)
// and the HTTP server (JSON, SSE, an OpenAI-shaped error).
import path from 'node:path';
import { runReadmeExample } from '../../../tools/testing/readme-example';

const README = path.join(__dirname, '..', 'README.md');

test('README example runs', async () => {
  const logs = await runReadmeExample(README);
  expect(logs.map((l) => l[0])).toEqual(['model', 'done', 'same seed, same tokens', 'worker']);
  expect(logs[0].slice(1)).toEqual([128, expect.any(Number)]);
  expect(logs[1].slice(1)).toEqual(['length', 8, true]);
  expect(logs[2][1]).toBe(true);
  expect(logs[3][1]).toBe(true);
});

test('README HTTP server example runs', async () => {
  const logs = await runReadmeExample(README, 'HTTP server');
  expect(logs).toEqual([['chat', 'chat.completion', true, true], ['stream', true, true], ['error', 400, 'top_p']]);
});
