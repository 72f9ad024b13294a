// Our side of serve.bench.mjs: an in-thread Engine (fp32 or `--quantize int8`) on a model directory,
// timed on request over stdin/stdout with the protocol of tools/bench/hf_generate.py:
//   prefill <T>            one prompt of T tokens, one new token: seconds of the prefill step
//   decode <streams> <N>   <streams> concurrent greedy requests of N new tokens each (EOS disabled):
//                          seconds and tokens of the pure decode steps (every step after the first)
//   quit
// Not a bench itself. Usage: node bench/serve-step.mjs --model <dir> [--quantize int8]
import readline from 'node:readline';
import { Engine } from '@stellar/serve';
import { numThreads } from '@stellar/tensor';

const reply = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const argv = process.argv.slice(2);
const model = argv[argv.indexOf('--model') + 1];
const quantize = argv.includes('--quantize') ? argv[argv.indexOf('--quantize') + 1] : undefined;
const now = () => Number(process.hrtime.bigint()) / 1e9;

const engine = Engine.load({ model, quantize, autoRun: false, eosTokenIds: [], maxBatch: 8, prefillChunk: 512 });
const V = engine.info.vocabSize;
// the same prompts as hf_generate.py (a fixed LCG per stream)
const prompt = (len, stream) => Array.from({ length: len }, (_, i) => (i * 7919 + stream * 104729 + 13) % V);

function prefill(T) {
  engine.submit({ prompt: prompt(T, 0), maxTokens: 1, temperature: 0 });
  const t0 = now();
  while (engine.step());
  return { seconds: now() - t0, tokens: T };
}

function decode(streams, N) {
  Array.from({ length: streams }, (_, s) => engine.submit({ prompt: prompt(32, s), maxTokens: N, temperature: 0 }));
  engine.step();   // prefill of every prompt (+ their first decode step): not timed
  let steps = 0;
  const t0 = now();
  while (engine.step()) steps++;
  const seconds = now() - t0;
  steps++;         // the last step, which returned false (idle after it)
  return { seconds, tokens: steps * streams };
}

reply({ ok: true, threads: numThreads(), quantize: quantize ?? null });
for await (const line of readline.createInterface({ input: process.stdin })) {
  const [cmd, a, b] = line.trim().split(/\s+/);
  try {
    if (cmd === 'quit') break;
    if (cmd === 'prefill') reply({ ok: true, ...prefill(Number(a)) });
    else if (cmd === 'decode') reply({ ok: true, ...decode(Number(a), Number(b)) });
    else reply({ ok: false, error: `unknown command ${cmd}` });
  } catch (e) { reply({ ok: false, error: String(e?.stack ?? e) }); }
}
engine.close();
