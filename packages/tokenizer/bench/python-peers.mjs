// Starts tools/bench/tokenizer_peers.py (HF `tokenizers` and SentencePiece) and talks to it over
// stdin/stdout, one JSON object per line. Finds a Python as the bench conventions say and installs the
// two packages into it when they are missing; reports them unavailable rather than failing.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const PACKAGES = ['tokenizers', 'sentencepiece'];
const log = (...a) => console.log('[tokenizer]', ...a);

/** pip flags for the local wheel mirror when this machine has one; otherwise pip's configured index. */
const mirror = () => (fs.existsSync('/opt/pypi/simple') ? ['--index-url', 'file:///opt/pypi/simple', '--extra-index-url', 'file:///opt/pypi-more/simple'] : []);
const imports = (python, mods) => spawnSync(python, ['-c', mods.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' }).status === 0;

/** $STELLAR_PYTHON, else <repo>/.venv-ref (created if missing), with tokenizers and sentencepiece. */
function findPython(root) {
  let python = process.env.STELLAR_PYTHON;
  if (!python) {
    python = path.join(root, '.venv-ref', 'bin', 'python');
    if (!fs.existsSync(python)) {
      log('creating .venv-ref for the Python peers (one time)');
      if (spawnSync('python3', ['-m', 'venv', path.join(root, '.venv-ref')], { stdio: 'inherit' }).status !== 0) return { error: '`python3 -m venv .venv-ref` failed' };
    }
  }
  const missing = PACKAGES.filter((m) => !imports(python, [m]));
  if (missing.length) {
    log(`installing ${missing.join(' ')} into ${python}`);
    spawnSync(python, ['-m', 'pip', 'install', ...mirror(), ...missing], { stdio: 'inherit' });
  }
  return { python };
}

/**
 * One peer process per entry of `envs` (extra environment variables each, e.g. a thread count): `ask(request)`
 * sends one command and resolves with its reply (throws on an error reply); `has.tokenizers` /
 * `has.sentencepiece` say which peers loaded; `error` is set if none can run.
 */
export async function startPeers(root, envs) {
  const found = findPython(root);
  return Promise.all(envs.map((env) => startPeer(root, found, env)));
}

async function startPeer(root, found, env) {
  const none = { has: {}, errors: {}, close() {} };
  if (!found.python) return { ...none, error: found.error };
  const proc = spawn(found.python, [path.join(root, 'tools', 'bench', 'tokenizer_peers.py')], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  proc.on('error', () => {});
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error('tokenizer_peers.py exited');
    const r = JSON.parse(value);
    if (!r.ok) throw new Error(`tokenizer_peers.py: ${r.error}`);
    return r;
  };
  let hello;
  try {
    hello = await next();
  } catch (e) {
    proc.kill();
    return { ...none, error: `${found.python}: ${e.message}` };
  }
  const versions = Object.fromEntries(PACKAGES.map((m) => [m, hello[m]]));
  return {
    proc,
    versions,
    errors: hello.errors,
    batchFast: hello.batch_fast,
    has: Object.fromEntries(PACKAGES.map((m) => [m, hello[m] != null])),
    async ask(req) {
      proc.stdin.write(JSON.stringify(req) + '\n');
      return next();
    },
    close() {
      try { proc.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n'); } catch { /* already gone */ }
    },
  };
}
