// The chat page in a real headless browser (Debian's Chromium through playwright-core): the page loads
// the model info, streams an answer that equals the server's greedy answer for that conversation, keeps
// the conversation for a second turn, and its Stop button ends a long generation early (the server
// cancels it). The engine is paced (one step per 15 ms) so the stream can be seen arriving.
import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { removeTmpDirs, tinyModelDir, type TinyModel } from './util/tiny';
import { pacedEngine, startServer, until, type Running } from './util/http-server';

// page.waitForFunction bodies run in the browser; this package compiles without the DOM lib
declare const document: any;   // eslint-disable-line @typescript-eslint/no-explicit-any

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const browserTest = CHROMIUM ? test : test.skip;
const why = CHROMIUM ? '' : ' [skipped: no Chromium binary at /usr/bin/chromium; apt-get install -y chromium]';

let tiny: TinyModel;
let s: Running;
let paced: ReturnType<typeof pacedEngine>;
let browser: Browser;

beforeAll(async () => {
  if (!CHROMIUM) return;
  tiny = await tinyModelDir('browser', { maxPositionEmbeddings: 512 });
  paced = pacedEngine(tiny.dir, 15, { maxBatch: 2, id: 'tiny-chat' });
  s = await startServer({ engine: paced.engine, ui: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await s?.server.close();
  paced?.stop();
  tiny?.model.dispose();
  removeTmpDirs();
});

/** Sends `text` from the page and waits for the n-th assistant message (0-based) to leave 'streaming'. */
async function turn(page: Page, text: string, n: number): Promise<{ state: string; text: string; sawPartial: boolean }> {
  await page.fill('#input', text);
  await page.click('#send');
  const msg = page.locator('.msg.assistant').nth(n);
  // the answer streams in: some text shows while the message is still streaming
  const sawPartial = await page.waitForFunction((i) => {
    const m = document.querySelectorAll('.msg.assistant')[i];
    return m && m.dataset.state === 'streaming' && (m.querySelector('.content')!.textContent ?? '').length > 0;
  }, n, { polling: 'raf', timeout: 10_000 }).then(() => true, () => false);
  await page.waitForFunction((i) => document.querySelectorAll('.msg.assistant')[i]?.dataset.state !== 'streaming', n, { timeout: 20_000 });
  return { state: (await msg.getAttribute('data-state'))!, text: (await msg.locator('.content').textContent())!, sawPartial };
}

browserTest(`chat page: streamed multi-turn answers equal the server's greedy answers; Stop cancels a long generation${why}`, async () => {
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(s.url);
  await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.includes('tiny-chat'));
  expect(await page.textContent('#model-info')).toContain('context 512 tokens');
  await page.fill('#temperature', '0');
  await page.fill('#max-tokens', '14');

  const ask = async (messages: { role: 'user' | 'assistant'; content: string }[], max = 14) =>
    (await s.client.chat.completions.create({ model: 'tiny-chat', messages, temperature: 0, top_p: 1, max_tokens: max })).choices[0];

  const first = await turn(page, 'the keeper', 0);
  const want1 = await ask([{ role: 'user', content: 'the keeper' }]);
  expect(first.state).toBe('done');
  expect(first.sawPartial).toBe(true);
  expect(first.text).toBe(want1.message.content);

  const second = await turn(page, 'and the ships?', 1);
  const want2 = await ask([{ role: 'user', content: 'the keeper' }, { role: 'assistant', content: want1.message.content! }, { role: 'user', content: 'and the ships?' }]);
  expect(second.state).toBe('done');
  expect(second.text).toBe(want2.message.content);

  // a long answer (greedy runs to the token limit for this conversation), stopped after a few tokens
  const convo = [
    { role: 'user' as const, content: 'the keeper' }, { role: 'assistant' as const, content: want1.message.content! },
    { role: 'user' as const, content: 'and the ships?' }, { role: 'assistant' as const, content: want2.message.content! },
    { role: 'user' as const, content: 'tell me more' },
  ];
  const full = await ask(convo, 150);
  expect(full.finish_reason).toBe('length');
  const cancelledBefore = paced.engine.metrics().requests.finished.cancelled;
  const generatedBefore = paced.engine.metrics().tokens.generated;
  await page.fill('#max-tokens', '150');
  await page.fill('#input', 'tell me more');
  await page.click('#send');
  await page.waitForFunction(() => {
    const m = document.querySelectorAll('.msg.assistant')[2];
    return m && (m.querySelector('.content')!.textContent ?? '').length > 0;
  }, null, { polling: 'raf' });
  await page.click('#stop');
  const third = page.locator('.msg.assistant').nth(2);
  await page.waitForFunction(() => document.querySelectorAll('.msg.assistant')[2].dataset.state === 'stopped', null, { timeout: 5000 });
  await until(() => paced.engine.metrics().requests.finished.cancelled === cancelledBefore + 1, 5000, 'the server to cancel the generation');
  expect(paced.engine.metrics().activeSequences).toBe(0);
  const stoppedText = (await third.locator('.content').textContent())!;
  expect(full.message.content!.startsWith(stoppedText)).toBe(true);
  expect(stoppedText.length).toBeLessThan(full.message.content!.length);
  expect(paced.engine.metrics().tokens.generated - generatedBefore).toBeLessThan(150);
  expect(await page.isEnabled('#send')).toBe(true);

  // nothing came from anywhere but this server, and the page threw nothing
  expect(requests.every((u) => u.startsWith(s.url))).toBe(true);
  expect(pageErrors).toEqual([]);
  await page.close();
});

browserTest(`chat page: asks for the API key when the server needs one, and works once given${why}`, async () => {
  const keyed = await startServer({ engine: paced.engine, ui: true, apiKey: 'k-123', closeEngine: false });
  const page = await browser.newPage();
  try {
    await page.goto(keyed.url);
    await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.includes('API key'));
    expect(await page.getAttribute('#api-key-row', 'class')).toContain('needed');
    await page.fill('#api-key', 'k-123');
    await page.dispatchEvent('#api-key', 'change');
    await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.includes('tiny-chat'));
    await page.fill('#temperature', '0');
    await page.fill('#max-tokens', '5');
    const t = await turn(page, 'fog', 0);
    expect(t.state).toBe('done');
    const want = await keyed.client.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'fog' }], temperature: 0, max_tokens: 5 });
    expect(t.text).toBe(want.choices[0].message.content);
  } finally {
    await page.close();
    await keyed.server.close();
  }
});
