// stellar-serve: loads a model into an engine worker and serves the OpenAI-compatible API (plus the chat
// page at /) on 127.0.0.1 by default; prints the URL; SIGINT/SIGTERM drain in-flight requests and exit 0.
import { createServer, startEngineWorker } from '@stellar/serve';
import { ENGINE_FLAGS, ENGINE_HELP, engineOptions, numberFlag, parse, UsageError } from './flags';

const FLAGS = {
  ...ENGINE_FLAGS,
  port: { type: 'string' },
  host: { type: 'string' },
  'api-key': { type: 'string' },
  'max-queue': { type: 'string' },
  timeout: { type: 'string' },
  'no-ui': { type: 'boolean' },
  'model-name': { type: 'string' },
} as const;

export const HELP = [
  'usage: stellar-serve --model <dir> [options]',
  '',
  'Serves an OpenAI-compatible API: POST /v1/chat/completions, /v1/completions (JSON or SSE streaming),',
  'GET /v1/models, /health, /metrics (Prometheus), POST /tokenize, /detokenize, and a chat page at /.',
  '',
  'options:',
  ...ENGINE_HELP,
  '  --port N             port to listen on (default 8000; 0 = any free port)',
  '  --host H             address to bind (default 127.0.0.1, this machine only; 0.0.0.0 exposes it)',
  '  --api-key K          require "Authorization: Bearer K" on /v1/*, /tokenize, /detokenize (also read from STELLAR_API_KEY)',
  '  --max-queue N        requests that may wait for a batch slot; more get 429 (default 64)',
  '  --timeout S          cancel a request after S seconds and answer 504 (default 600; 0 = none)',
  '  --model-name NAME    the model id clients send (default: the model directory\'s name)',
  '  --no-ui              do not serve the chat page',
  '  -h, --help           this help',
  '',
  'SIGINT / SIGTERM: stop accepting, let in-flight requests finish (up to 30 s), then exit.',
].join('\n');

export interface Io { out: (s: string) => void; err: (s: string) => void }
const stdio: Io = { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n') };

/** Runs the server until a signal; resolves with the exit code. */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  let values, opts, port, maxQueue, timeout;
  try {
    values = parse(argv, FLAGS);
    if (values.help) { io.out(HELP); return 0; }
    opts = engineOptions(values);
    port = numberFlag(values, 'port', { min: 0, max: 65535 }) ?? 8000;
    maxQueue = numberFlag(values, 'max-queue', { min: 0 });
    timeout = numberFlag(values, 'timeout', { int: false, min: 0 });
  } catch (e) {
    if (e instanceof UsageError) { io.err(`stellar-serve: ${e.message}\n(see stellar-serve --help)`); return 2; }
    throw e;
  }
  const apiKey = values['api-key'] ?? process.env.STELLAR_API_KEY;
  let engine;
  try {
    engine = await startEngineWorker({ ...opts, maxQueue, id: values['model-name'] });
  } catch (e) {
    io.err(`stellar-serve: cannot load ${opts.model}: ${(e as Error).message}`);
    return 1;
  }
  const server = createServer({
    engine, port, host: values.host ?? '127.0.0.1', apiKey: apiKey || undefined, ui: !values['no-ui'],
    requestTimeoutMs: timeout === undefined ? undefined : timeout * 1000,
  });
  try {
    const { url } = await server.listen();
    const i = engine.info;
    io.err(`model ${i.id}: ${(i.parameters / 1e6).toFixed(2)}M parameters, ${i.layers} layers, context ${i.contextLength}, batch ${i.maxBatch}, queue ${i.maxQueue}${i.adapter ? `, adapter ${i.adapter}` : ''}`);
    io.out(`stellar-serve listening on ${url}${values['no-ui'] ? '' : ` (chat page: ${url}/)`}`);
  } catch (e) {
    io.err(`stellar-serve: cannot listen: ${(e as Error).message}`);
    await engine.close();
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string) => {
      if (stopping) { io.err(`stellar-serve: ${sig} again, exiting now`); process.exit(1); }
      stopping = true;
      io.err(`stellar-serve: ${sig}: finishing in-flight requests`);
      server.close().then(() => { io.err('stellar-serve: stopped'); resolve(0); }, (e) => { io.err(`stellar-serve: ${(e as Error).message}`); resolve(1); });
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`stellar-serve: ${(e as Error).stack ?? e}\n`); process.exitCode = 1; });
}
