// stellar-serve and stellar-chat as a user runs them: --help, bad flags, a real server process that
// prints its URL, answers a request and exits 0 on SIGTERM, and a chat driven through stdin whose
// streamed answers equal the engine's greedy answer (twice: /reset forgets the first turn), and Ctrl-C
// stopping an answer.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Engine } from '@stellar/serve';
import { main as serveMain, HELP as SERVE_HELP } from '../src/serve';
import { main as chatMain } from '../src/chat';
import { removeTmpDirs, tinyModelDir, type TinyModel } from '../../../packages/serve/test/util/tiny';

const RUN = path.join(__dirname, 'util', 'run-ts.cjs');
const SRC = path.join(__dirname, '..', 'src');
let tiny: TinyModel;
beforeAll(async () => { tiny = await tinyModelDir('cli'); tiny.model.dispose(); });
afterAll(() => removeTmpDirs());

function capture() {
  const o = { out: '', err: '' };
  return { o, io: { out: (s: string) => { o.out += s + '\n'; }, err: (s: string) => { o.err += s + '\n'; } } };
}

test('--help on both bins; missing --model and bad values are usage errors (exit 2)', async () => {
  const a = capture();
  expect(await serveMain(['--help'], a.io)).toBe(0);
  expect(a.o.out).toBe(SERVE_HELP + '\n');
  for (const f of ['--model <dir>', '--adapter', '--port', '--host', '--api-key', '--max-batch', '--max-queue', '--max-context', '--threads', '--timeout', '--no-ui']) expect(a.o.out).toContain(f);
  let chatOut = '';
  expect(await chatMain(['-h'], { input: process.stdin, out: (s) => { chatOut += s; }, err: () => {}, interactive: false })).toBe(0);
  expect(chatOut).toMatch(/usage: stellar-chat --model <dir>/);
  for (const f of ['/reset', '/exit', 'Ctrl-C', '--temperature', '--max-tokens', '--system']) expect(chatOut).toContain(f);

  const b = capture();
  expect(await serveMain([], b.io)).toBe(2);
  expect(b.o.err).toMatch(/--model <dir> is required/);
  const c = capture();
  expect(await serveMain(['--model', tiny.dir, '--port', 'eighty'], c.io)).toBe(2);
  const d = capture();
  expect(await serveMain(['--model', tiny.dir, '--quantize', 'int8'], d.io)).toBe(2);
  expect(d.o.err).toMatch(/Unknown option '--quantize'/);
  const e = capture();
  expect(await serveMain(['--model', tiny.dir, '--max-batch', '0'], e.io)).toBe(2);
  expect(e.o.err).toMatch(/--max-batch must be an integer >= 1, got "0"/);
});

test('stellar-serve: prints the URL, serves a request and the page, exits 0 on SIGTERM', async () => {
  const p = spawn(process.execPath, [RUN, path.join(SRC, 'serve.ts'), '--model', tiny.dir, '--port', '0', '--model-name', 'tiny', '--max-batch', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      p.stdout.on('data', (d) => {
        out += d;
        const m = /stellar-serve listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]);
      });
      p.on('exit', () => reject(new Error(`exited early: ${err}`)));
    });
    const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'the keeper' }], max_tokens: 6, temperature: 0 }) });
    expect(r.status).toBe(200);
    const body = await r.json() as { choices: { message: { content: string } }[] };
    const e = Engine.load({ model: tiny.dir });
    try {
      expect(body.choices[0].message.content).toBe((await e.submit({ messages: [{ role: 'user', content: 'the keeper' }], maxTokens: 6, temperature: 0 }).result).text);
    } finally { e.close(); }
    expect((await fetch(`${url}/`)).headers.get('content-type')).toMatch(/text\/html/);
    expect(err).toMatch(/model tiny: .*context 64, batch 2/);
  } finally {
    p.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(err).toMatch(/SIGTERM: finishing in-flight requests[\s\S]*stopped/);
});

test('stellar-chat through stdin: streamed greedy answers, /reset, /exit', async () => {
  const p = spawn(process.execPath, [RUN, path.join(SRC, 'chat.ts'), '--model', tiny.dir, '--temperature', '0', '--max-tokens', '8'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  p.stdin.end('the keeper\n/reset\nthe keeper\nships\n/exit\nnever read\n');
  expect(await exited).toBe(0);
  const e = Engine.load({ model: tiny.dir });
  let want1: string, want2: string;
  try {
    const first = await e.submit({ messages: [{ role: 'user', content: 'the keeper' }], maxTokens: 8, temperature: 0 }).result;
    want1 = first.text + (first.finishReason === 'length' ? ' [token limit]' : '');
    const second = await e.submit({ messages: [{ role: 'user', content: 'the keeper' }, { role: 'assistant', content: first.text }, { role: 'user', content: 'ships' }], maxTokens: 8, temperature: 0 }).result;
    want2 = second.text + (second.finishReason === 'length' ? ' [token limit]' : '');
  } finally { e.close(); }
  expect(out).toBe(`${want1}\n${want1}\n${want2}\n`);
  expect(err).toMatch(/conversation reset/);
});

test('stellar-chat: Ctrl-C stops the current answer, a second Ctrl-C (no answer running) exits 0', async () => {
  const long = await tinyModelDir('cli-long', { maxPositionEmbeddings: 4096, hiddenSize: 128, intermediateSize: 256 });
  long.model.dispose();
  const p = spawn(process.execPath, [RUN, path.join(SRC, 'chat.ts'), '--model', long.dir, '--temperature', '0', '--max-tokens', '4000'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const waitFor = (re: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => { if (re.test(out)) resolve(); };
    p.stdout.on('data', (d) => { out += d; check(); });
    p.on('exit', () => reject(new Error(`exited before ${re}: ${out} ${err}`)));
    check();
  });
  p.stdin.write('the keeper\n');
  await waitFor(/\S/);
  p.kill('SIGINT');
  await waitFor(/ \[stopped\]\n/);
  expect(out).not.toMatch(/\[token limit\]/);
  p.kill('SIGINT');   // idle: exits
  expect(await exited).toBe(0);
}, 60_000);
