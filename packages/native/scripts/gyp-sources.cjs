// Prints the source list or link libraries for binding.gyp: all C++ under csrc/, the CUDA stub
// unless scripts/build.mjs compiled the .cu kernels into build/cuda/ (then their objects + cudart).
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const cudaList = path.join(root, 'build', 'cuda', 'objects.txt');
const withCuda = fs.existsSync(cudaList);

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

const what = process.argv[2];
if (what === 'sources') {
  const srcs = walk(path.join(root, 'csrc'))
    .filter((f) => f.endsWith('.cc'))
    .filter((f) => !(withCuda && f.endsWith('cuda_stub.cc')))
    .map((f) => path.relative(root, f).split(path.sep).join('/'))
    .sort();
  console.log(srcs.join(' '));
} else if (what === 'libraries') {
  const libs = ['-lopenblas'];
  if (withCuda) {
    const objs = fs.readFileSync(cudaList, 'utf8').split('\n').filter(Boolean);
    const cudaLib = fs.readFileSync(path.join(root, 'build', 'cuda', 'libdir.txt'), 'utf8').trim();
    libs.push(...objs, `${cudaLib}/libcudart_static.a`, '-ldl', '-lpthread', '-lrt');
  }
  console.log(libs.join(' '));
} else {
  throw new Error(`usage: gyp-sources.cjs sources|libraries`);
}
