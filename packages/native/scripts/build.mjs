// Builds the addon: compiles csrc/cuda/*.cu with nvcc when it is found (STELLAR_NO_CUDA=1 skips),
// then configures (when needed) and builds the N-API module with node-gyp, incrementally.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const cudaOut = path.join(root, 'build', 'cuda');

function findNvcc() {
  if (process.env.STELLAR_NO_CUDA === '1') return null;
  const cands = [process.env.NVCC, ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'nvcc')), '/usr/local/cuda/bin/nvcc'];
  return cands.find((p) => p && fs.existsSync(p)) ?? null;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with status ${r.status}`);
}

async function buildCuda(nvcc) {
  // nvcc may be a wrapper script (e.g. /usr/local/bin/nvcc exec'ing the toolkit's), so look in several roots.
  const roots = [path.resolve(path.dirname(fs.realpathSync(nvcc)), '..'), process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda'].filter(Boolean);
  const libdir = roots.flatMap((r) => ['lib64', 'targets/x86_64-linux/lib', 'lib'].map((d) => path.join(r, d)))
    .find((d) => fs.existsSync(path.join(d, 'libcudart_static.a')));
  if (!libdir) { console.warn('[native] nvcc found but libcudart_static.a missing: building without CUDA'); return false; }
  fs.mkdirSync(cudaOut, { recursive: true });
  const srcs = fs.readdirSync(path.join(root, 'csrc', 'cuda')).filter((f) => f.endsWith('.cu')).sort();
  if (srcs.length === 0) return false;
  const arch = process.env.STELLAR_CUDA_ARCH ?? '75';
  // Any header under csrc/ may be included by a .cu (core/, shared/, cpu/strided.h, cuda/*.cuh).
  const walkHeaders = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walkHeaders(path.join(dir, e.name)) : /\.(h|cuh)$/.test(e.name) ? [path.join(dir, e.name)] : []);
  const headers = walkHeaders(path.join(root, 'csrc'));
  const archStamp = path.join(cudaOut, 'arch.txt');  // objects built for another STELLAR_CUDA_ARCH are stale
  const sameArch = fs.existsSync(archStamp) && fs.readFileSync(archStamp, 'utf8') === arch;
  const objs = [];
  const jobs = srcs.map((f) => async () => {
    const src = path.join(root, 'csrc', 'cuda', f);
    const obj = path.join(cudaOut, f.replace(/\.cu$/, '.o'));
    objs.push(obj);
    const deps = [src, ...headers];
    if (sameArch && fs.existsSync(obj) && deps.every((d) => fs.statSync(d).mtimeMs <= fs.statSync(obj).mtimeMs)) return;
    const args = ['-O3', '-std=c++17', '-Xcompiler', '-fPIC', '-I', path.join(root, 'csrc'),
      `--generate-code=arch=compute_${arch},code=[compute_${arch},sm_${arch}]`, '-c', src, '-o', obj];
    console.log(`[native] nvcc ${f}`);
    await new Promise((resolve, reject) => {
      import('node:child_process').then(({ spawn }) => {
        const p = spawn(nvcc, args, { stdio: 'inherit', cwd: root });
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nvcc ${f} failed (${code})`))));
      });
    });
  });
  const width = Math.max(1, os.cpus().length);
  for (let i = 0; i < jobs.length; i += width) await Promise.all(jobs.slice(i, i + width).map((j) => j()));
  fs.writeFileSync(archStamp, arch);
  fs.writeFileSync(path.join(cudaOut, 'objects.txt'), objs.sort().join('\n') + '\n');
  fs.writeFileSync(path.join(cudaOut, 'libdir.txt'), libdir + '\n');
  return true;
}

// One build at a time per package directory (parallel turbo/jest runs or several shells).
const lockFile = path.join(root, 'build.lock');
function acquireLock() {
  const deadline = Date.now() + 20 * 60 * 1000;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return;
    } catch {
      const pid = Number(fs.readFileSync(lockFile, 'utf8') || 0);
      let alive = false;
      try { if (pid) { process.kill(pid, 0); alive = true; } } catch { alive = false; }
      if (!alive) { fs.rmSync(lockFile, { force: true }); continue; }
      if (Date.now() > deadline) throw new Error(`build lock held by pid ${pid} for too long (${lockFile})`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
}
acquireLock();
process.on('exit', () => { try { if (fs.readFileSync(lockFile, 'utf8') === String(process.pid)) fs.rmSync(lockFile); } catch {} });

// The BLAS is found at build time: fail early with the fix instead of a linker error.
function checkBlas() {
  const headers = ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/aarch64-linux-gnu/cblas.h', '/usr/include/openblas/cblas.h'];
  const libDirs = ['/usr/lib', '/usr/lib64', '/usr/local/lib', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];
  const hasHeader = headers.some((h) => fs.existsSync(h));
  const hasLib = libDirs.some((d) => fs.existsSync(path.join(d, 'libopenblas.so')));
  if (!hasHeader || !hasLib) {
    throw new Error('[native] OpenBLAS development files not found (cblas.h and libopenblas.so). Install them: ' +
      '`sudo apt-get install libopenblas-dev` (Debian/Ubuntu) — or run `bash scripts/bootstrap.sh` at the repo root.');
  }
}
checkBlas();

const nvcc = findNvcc();
let cuda = false;
if (nvcc) cuda = await buildCuda(nvcc);
if (!cuda) fs.rmSync(path.join(cudaOut, 'objects.txt'), { force: true });

const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const nodedirArgs = fs.existsSync('/usr/include/node/node_api.h') && !process.env.npm_config_nodedir ? ['--nodedir=/usr'] : [];
const stamp = path.join(root, 'build', 'configure.stamp');
const want = JSON.stringify({ cuda, gyp: fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8'),
  sources: execFileSync(process.execPath, [path.join(root, 'scripts', 'gyp-sources.cjs'), 'sources'], { cwd: root }).toString() });
if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== want || !fs.existsSync(path.join(root, 'build', 'Makefile'))) {
  run(process.execPath, [gyp, 'configure', ...nodedirArgs]);
  fs.writeFileSync(stamp, want);
}
run(process.execPath, [gyp, 'build', '-j', String(Math.max(1, os.cpus().length)), ...nodedirArgs]);
console.log(`[native] built ${path.join('build', 'Release', 'stellar_native.node')} (cuda: ${cuda ? 'compiled' : 'not compiled'})`);
