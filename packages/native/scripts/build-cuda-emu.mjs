// Builds build/emu/stellar_native_emu.node: the whole addon with csrc/cuda/*.cu compiled by g++ against
// the CPU emulator in test/cuda-emu, so the CUDA kernels run (slowly, one block at a time) without a GPU.
// Run the CUDA suite on it: STELLAR_NATIVE_ADDON=build/emu/stellar_native_emu.node npx jest test/cuda.test.ts
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const out = path.join(root, 'build', 'emu');
const emuDir = path.join(root, 'test', 'cuda-emu');
fs.mkdirSync(out, { recursive: true });

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
const csrc = path.join(root, 'csrc');
const files = walk(csrc);
const headers = [...files.filter((f) => /\.(h|cuh)$/.test(f)), path.join(emuDir, 'cuda_emu.h')];
const sources = [
  ...files.filter((f) => f.endsWith('.cc') && !f.endsWith('cuda_stub.cc')),
  ...files.filter((f) => f.endsWith('.cu')),
  path.join(emuDir, 'cuda_emu.cc'),
];

const nodeInc = fs.existsSync('/usr/include/node/node_api.h') ? '/usr/include/node' : path.join(path.dirname(process.execPath), '..', 'include', 'node');
const flags = ['-std=c++17', '-O1', '-g0', '-fPIC', '-fexceptions', '-Wall', '-Wno-unused-function', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS',
  '-DSTELLAR_CUDA_EMU', `-I${csrc}`, `-I${emuDir}`, `-I${require('node-addon-api').include_dir}`, `-I${nodeInc}`];

function compile(src) {
  const rel = path.relative(root, src).replace(/[\\/]/g, '_');
  const obj = path.join(out, rel + '.o');
  const newest = Math.max(fs.statSync(src).mtimeMs, ...headers.map((h) => fs.statSync(h).mtimeMs));
  if (fs.existsSync(obj) && fs.statSync(obj).mtimeMs >= newest) return Promise.resolve(obj);
  const args = [...flags, ...(src.endsWith('.cu') ? ['-x', 'c++'] : []), '-c', src, '-o', obj];
  console.log(`[native-emu] g++ ${path.relative(root, src)}`);
  return new Promise((resolve, reject) => {
    const p = spawn('g++', args, { stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve(obj) : reject(new Error(`g++ ${src} failed (${code})`))));
  });
}

const objs = [];
const queue = [...sources];
const width = Math.max(1, os.cpus().length);
await Promise.all(Array.from({ length: width }, async () => {
  while (queue.length) objs.push(await compile(queue.shift()));
}));
const target = path.join(out, 'stellar_native_emu.node');
await new Promise((resolve, reject) => {
  const p = spawn('g++', ['-shared', '-o', target, ...objs.sort(), '-lopenblas', '-lpthread'], { stdio: 'inherit' });
  p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`link failed (${code})`))));
});
console.log(`[native-emu] built ${path.relative(root, target)}`);
