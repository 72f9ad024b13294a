// The train-tokenizer CLI run in-process: help, argument errors (exit 2), training on text and JSONL, output that reloads and round-trips.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTokenizer } from '@stellar/tokenizer';
import { progressLine } from '../src/cli/progress';
import { HELP, main } from '../src/cli/train-tokenizer';
import { corpusLines } from './util/fixtures';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], isTTY = false) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s), isTTY } });
  return { code, stdout, stderr };
}

test('--help prints usage and exits 0', async () => {
  const r = await run(['--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(HELP);
  for (const flag of ['--vocab-size', '--min-frequency', '--pattern', '--digits', '--special-tokens', '--threads', '--out', '--holdout', '--format', '--text-field']) {
    expect(r.stdout).toContain(flag);
  }
});

test('bad arguments exit 2 with a message', async () => {
  const f = path.join(dir, 'tiny.txt');
  fs.writeFileSync(f, 'hello\n');
  const out = path.join(dir, 'never');
  const cases: [string[], string][] = [
    [[], 'no input files'],
    [[f], '--out <dir> is required'],
    [[f, '--out', out, '--vocab-size', 'lots'], '--vocab-size must be an integer'],
    [[f, '--out', out, '--vocab-size', '100'], '--vocab-size must be an integer >= 261'],
    [[f, '--out', out, '--threads', '0'], '--threads must be an integer >= 1'],
    [[f, '--out', out, '--holdout', '1'], '--holdout must be a number in [0, 1)'],
    [[f, '--out', out, '--holdout', 'abc'], '--holdout must be a number'],
    [[f, '--out', out, '--format', 'csv'], '--format must be auto, text or jsonl'],
    [[f, '--out', out, '--pattern', '(?<bad'], '--pattern'],
    [[f, '--out', out, '--pattern', '\\w+', '--digits'], '--digits only applies'],
    [[f, '--out', out, '--eos-token', '<eos>'], 'not one of the special tokens'],
    [[f, '--out', out, '--frobnicate'], "Unknown option '--frobnicate'"],
    [[path.join(dir, 'nothing-*.txt'), '--out', out], 'no files match'],
  ];
  for (const [args, msg] of cases) {
    const r = await run(args);
    expect([args, r.code]).toEqual([args, 2]);
    expect(r.stderr).toContain(msg);
    expect(r.stderr).toContain('--help');
  }
  expect(fs.existsSync(out)).toBe(false);
});

test('trains on text + JSONL with a malformed line: fails naming file:line, or skips it with --skip-bad-lines', async () => {
  const txt = path.join(dir, 'corpus.txt');
  fs.writeFileSync(txt, corpusLines().join(''));
  const jsonl = path.join(dir, 'extra.jsonl');
  fs.writeFileSync(jsonl, ['{"text":"The keeper climbed the lighthouse steps."}', '{"text": broken', '{"text":"灯塔 🌊 and 12345"}'].join('\n') + '\n');
  const out = path.join(dir, 'tok');

  const failed = await run([txt, jsonl, '--out', out, '--vocab-size', '400', '--threads', '2']);
  expect(failed.code).toBe(1);
  expect(failed.stderr).toContain(`${jsonl}:2: invalid JSON`);

  const r = await run([txt, jsonl, '--out', out, '--vocab-size', '400', '--threads', '2', '--skip-bad-lines', '--holdout', '0.2', '--special-tokens', '<|endoftext|>,<|pad|>']);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('skipped 1 malformed line(s)');
  expect(r.stderr).toContain(`${jsonl}:2: invalid JSON`);
  // Progress lines on a non-terminal: one per phase change and at the end of each phase.
  expect(r.stderr).toMatch(/counting: .* MB \/ .* MB \(100%\)/);
  expect(r.stderr).toMatch(/merging: 142 \/ 142 merges/);
  expect(r.stdout).toContain('vocab size:    400 (2 special, 256 bytes, 142 merges)');
  const held = r.stdout.match(/held out: +(\d+) texts, .*: ([\d.]+) chars\/token/);
  expect(held).not.toBeNull();
  expect(Number(held![1])).toBeGreaterThan(0);
  expect(Number(held![2])).toBeGreaterThan(1);

  const tok = loadTokenizer(out);
  expect(tok.vocabSize).toBe(400);
  expect(tok.eosToken).toBe('<|endoftext|>');
  expect(tok.padToken).toBe('<|pad|>');
  expect(tok.tokenToId('<|endoftext|>')).toBe(0);
  const text = 'The keeper 🌊 climbed 12345 steps.<|endoftext|>';
  const ids = tok.encode(text);
  expect(ids.length).toBeLessThan(Buffer.byteLength(text));
  expect(tok.decode(ids)).toBe(text);
});

test('held-out texts are excluded from training, and chars/token is measured on them', async () => {
  // The tail uses only letters the training sentence lacks, so any merge with them came from the tail.
  const train = 'the lighthouse keeper climbed the steps before dawn\n'.repeat(200);
  const line = 'jqvx yzzq xvjj qqzy\n';
  const f = path.join(dir, 'held.txt');
  fs.writeFileSync(f, train + line.repeat(40));
  const total = fs.statSync(f).size;
  // The cut falls where the tail starts (a text belongs to the side its first byte is on).
  const holdout = (40 * line.length) / total;
  const tailMerges = (t: ReturnType<typeof loadTokenizer>) => t.merges.filter(([a, b]) => /[jqvxyz]/.test(a + b)).length;

  const r = await run([f, '--out', path.join(dir, 'held'), '--vocab-size', '400', '--holdout', String(holdout), '--special-tokens', '', '--quiet']);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  const tok = loadTokenizer(path.join(dir, 'held'));
  expect(tailMerges(tok)).toBe(0);
  expect(r.stdout).toContain('held out:      40 texts');
  expect(r.stdout).toContain(`${(line.length / tok.encode(line).length).toFixed(3)} chars/token`);

  // Without a holdout the tail is trained on (so the check above can fail).
  const all = await run([f, '--out', path.join(dir, 'all'), '--vocab-size', '400', '--holdout', '0', '--special-tokens', '', '--quiet']);
  expect(all.code).toBe(0);
  expect(tailMerges(loadTokenizer(path.join(dir, 'all')))).toBeGreaterThan(0);
});

test('a terminal gets one rewritten progress line', async () => {
  const f = path.join(dir, 'tty.txt');
  fs.writeFileSync(f, corpusLines().join(''));
  const r = await run([f, '--out', path.join(dir, 'tty'), '--vocab-size', '300', '--holdout', '0'], true);
  expect(r.code).toBe(0);
  expect(r.stderr.startsWith('\r')).toBe(true);
  expect(r.stderr).toContain('\x1b[K');
  expect(r.stdout).toContain('held out:      nothing (--holdout 0)');
});

test('--max-words caps the word table and the summary says the counts are approximate', async () => {
  const f = path.join(dir, 'cap.txt');
  fs.writeFileSync(f, corpusLines().join(''));
  const capped = await run([f, '--out', path.join(dir, 'cap'), '--vocab-size', '300', '--max-words', '40', '--quiet', '--threads', '1']);
  expect(capped.code).toBe(0);
  expect(capped.stdout).toMatch(/--max-words dropped \d+ rare pieces, counts are approximate/);
  const free = await run([f, '--out', path.join(dir, 'free'), '--vocab-size', '300', '--quiet']);
  expect(free.stdout).not.toContain('approximate');
});

test('--digits splits numbers into single digits; --pattern takes a custom regex', async () => {
  const f = path.join(dir, 'numbers.txt');
  fs.writeFileSync(f, 'order 12345 shipped 67890 on 2024-05-17\n'.repeat(50));
  const digitPairs = (dirName: string) => loadTokenizer(path.join(dir, dirName)).merges.filter(([a, b]) => /\d/.test(a) && /\d/.test(b)).length;
  for (const pattern of ['gpt2', 'gpt4']) {
    expect((await run([f, '--out', path.join(dir, `n-${pattern}`), '--vocab-size', '330', '--pattern', pattern, '--quiet', '--holdout', '0'])).code).toBe(0);
    expect(digitPairs(`n-${pattern}`)).toBeGreaterThan(0);
    expect((await run([f, '--out', path.join(dir, `d-${pattern}`), '--vocab-size', '330', '--pattern', pattern, '--digits', '--quiet', '--holdout', '0'])).code).toBe(0);
    expect(digitPairs(`d-${pattern}`)).toBe(0);
  }
  // A custom pattern that makes every character its own piece: nothing can merge.
  const r = await run([f, '--out', path.join(dir, 'chars'), '--vocab-size', '330', '--pattern', '.', '--quiet', '--holdout', '0', '--special-tokens', '']);
  expect(r.code).toBe(0);
  const tok = loadTokenizer(path.join(dir, 'chars'));
  expect(tok.merges).toEqual([]);
  expect(tok.pattern).toBe('.');
});

test('progress lines: bytes, MB/s and ETA while counting; merges/s measured from the first merge event', () => {
  const MB = 1024 * 1024;
  expect(progressLine({ phase: 'count', texts: 10, bytesRead: 5 * MB, totalBytes: 20 * MB, elapsedMs: 2000, done: false })).toBe(
    'counting: 5.0 MB / 20.0 MB (25%), 2.5 MB/s, ETA 6s',
  );
  expect(progressLine({ phase: 'count', texts: 10, bytesRead: 0, totalBytes: 0, elapsedMs: 10, done: false })).toBe('counting: 10 texts');
  const since = { merges: 0, elapsedMs: 500 };
  expect(progressLine({ phase: 'merge', merges: 1000, totalMerges: 8000, elapsedMs: 1500, done: false }, since)).toBe(
    'merging: 1000 / 8000 merges, 1000 merges/s, ETA 7s',
  );
  expect(progressLine({ phase: 'merge', merges: 8000, totalMerges: 8000, elapsedMs: 200000, done: true }, since)).toContain('ETA 0s');
  expect(progressLine({ phase: 'merge', merges: 100, totalMerges: 8000, elapsedMs: 100500, done: false }, since)).toBe(
    'merging: 100 / 8000 merges, 1 merges/s, ETA 131m40s',
  );
  // 119.5 s left rounds up to 2m00s, not 1m60s.
  expect(progressLine({ phase: 'merge', merges: 1000, totalMerges: 1239, elapsedMs: 500500, done: false }, since)).toContain('ETA 2m00s');
});

const distCli = path.join(__dirname, '..', 'dist', 'cli', 'train-tokenizer.js');
(fs.existsSync(distCli) ? test : test.skip)(`built bin ${fs.existsSync(distCli) ? '' : '(SKIPPED: run npx tsup to build dist) '}runs: node dist/cli/train-tokenizer.js --help, and trains with a worker`, () => {
  const r = spawnSync(process.execPath, [distCli, '--help'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(HELP);
  const bad = spawnSync(process.execPath, [distCli, '--vocab-size'], { encoding: 'utf8' });
  expect(bad.status).toBe(2);
  // Over two 1M-char chunks, so the second goes to a counting worker started from dist/cli (it finds dist/count-worker.cjs).
  const f = path.join(dir, 'big.txt');
  fs.writeFileSync(f, corpusLines().join('').repeat(1100));
  const trained = spawnSync(process.execPath, [distCli, f, '--out', path.join(dir, 'dist-out'), '--vocab-size', '300', '--threads', '2', '--quiet'], { encoding: 'utf8' });
  expect(trained.stderr).toBe('');
  expect(trained.status).toBe(0);
  expect(trained.stdout).toContain('2 thread(s)');
  expect(loadTokenizer(path.join(dir, 'dist-out')).vocabSize).toBe(300);
});
