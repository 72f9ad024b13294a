// stellar-chat: a terminal chat with a model directory. Answers stream as they are generated; the
// conversation carries over turns; /reset starts over, /exit (or end of input) leaves; Ctrl-C stops the
// current answer and a second Ctrl-C exits. Lines can also be piped in (one user turn per line).
import readline from 'node:readline';
import { startEngineWorker, type EngineClient } from '@stellar/serve';
import { ENGINE_FLAGS, ENGINE_HELP, engineOptions, numberFlag, parse, UsageError } from './flags';

const FLAGS = {
  ...ENGINE_FLAGS,
  system: { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'max-tokens': { type: 'string' },
  seed: { type: 'string' },
} as const;

export const HELP = [
  'usage: stellar-chat --model <dir> [options]',
  '',
  'A terminal chat: type a message and press Enter; the answer streams in.',
  '  /reset  forget the conversation      /exit  leave (so does Ctrl-D)',
  '  Ctrl-C  stop the current answer (a second Ctrl-C exits)',
  '',
  'options:',
  ...ENGINE_HELP,
  '  --system TEXT        system prompt',
  '  --temperature T      sampling temperature (default 0.7; 0 = greedy)',
  '  --top-p P            nucleus sampling (default 1)',
  '  --max-tokens N       longest answer (default 512, or what is left of the context)',
  '  --seed N             sampling seed (default: random)',
  '  -h, --help           this help',
].join('\n');

export interface ChatIo { input: NodeJS.ReadableStream; out: (s: string) => void; err: (s: string) => void; interactive: boolean }

export async function main(argv: string[], io: ChatIo = { input: process.stdin, out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s + '\n'), interactive: !!process.stdin.isTTY }): Promise<number> {
  let values, opts, sampling;
  try {
    values = parse(argv, FLAGS);
    if (values.help) { io.out(HELP + '\n'); return 0; }
    opts = engineOptions(values);
    sampling = {
      temperature: numberFlag(values, 'temperature', { int: false, min: 0, max: 2 }) ?? 0.7,
      topP: numberFlag(values, 'top-p', { int: false, min: 0, max: 1 }) ?? 1,
      maxTokens: numberFlag(values, 'max-tokens') ?? 512,
      seed: numberFlag(values, 'seed', { min: 0 }),
    };
  } catch (e) {
    if (e instanceof UsageError) { io.err(`stellar-chat: ${e.message}\n(see stellar-chat --help)`); return 2; }
    throw e;
  }
  let engine: EngineClient;
  try {
    engine = await startEngineWorker({ ...opts, maxQueue: 1 });
  } catch (e) {
    io.err(`stellar-chat: cannot load ${opts.model}: ${(e as Error).message}`);
    return 1;
  }
  if (!engine.info.hasTokenizer) {
    io.err('stellar-chat: the model directory has no tokenizer.json');
    await engine.close();
    return 1;
  }
  io.err(`${engine.info.id}: context ${engine.info.contextLength} tokens. /reset starts over, /exit leaves, Ctrl-C stops an answer.`);

  const system = values.system ? [{ role: 'system', content: values.system }] : [];
  let history: { role: string; content: string }[] = [];
  let current: AbortController | null = null;
  let exiting = false;
  const rl = readline.createInterface({ input: io.input, terminal: io.interactive, prompt: '> ' });
  const onInterrupt = () => {
    if (current && !current.signal.aborted) { current.abort(); return; }
    exiting = true;
    rl.close();
  };
  rl.on('SIGINT', onInterrupt);            // a terminal: readline reports Ctrl-C
  process.on('SIGINT', onInterrupt);       // piped input: the signal itself

  const answer = async (text: string) => {
    history.push({ role: 'user', content: text });
    current = new AbortController();
    let out = '';
    try {
      // what is left of the context bounds the answer (the engine refuses a budget that does not fit)
      const promptLen = (await engine.tokenize([...system, ...history])).length;
      const room = engine.info.contextLength - promptLen;
      if (room < 1) throw new Error(`the conversation (${promptLen} tokens) fills the context (${engine.info.contextLength}); /reset to start over`);
      const h = await engine.submit({ messages: [...system, ...history], ...sampling, maxTokens: Math.min(sampling.maxTokens, room) }, { signal: current.signal });
      for await (const ev of h) {
        if (ev.type === 'token') { out += ev.text; io.out(ev.text); }
        else if (ev.finishReason === 'cancelled') io.out(' [stopped]');
        else if (ev.finishReason === 'length') io.out(' [token limit]');
      }
      io.out('\n');
      history.push({ role: 'assistant', content: out });
    } catch (e) {
      history.pop();
      io.out('\n');
      io.err(`error: ${(e as Error).message}`);
    } finally {
      current = null;
    }
  };

  if (io.interactive) rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/exit' || text === '/quit') break;
    if (text === '/reset') { history = []; io.err('(conversation reset)'); }
    else if (text) await answer(text);
    if (exiting) break;
    if (io.interactive) rl.prompt();
  }
  rl.close();
  process.off('SIGINT', onInterrupt);
  await engine.close();
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`stellar-chat: ${(e as Error).stack ?? e}\n`); process.exitCode = 1; });
}
