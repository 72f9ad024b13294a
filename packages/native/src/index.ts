// @stellar/native: loads the compiled addon from one place and exposes it with types.
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
import type { Binding } from './binding';

export type { Binding } from './binding';

/** Devices as the addon numbers them. */
export const DEVICE_CPU = 0;
export const DEVICE_CUDA = 1;

/** Raised when a CUDA tensor is requested from a build without CUDA or a machine without a device. */
export class CudaNotCompiled extends Error {
  readonly code = 'ERR_CUDA_NOT_COMPILED';
}
export class CudaUnavailable extends Error {
  readonly code = 'ERR_CUDA_UNAVAILABLE';
}

function packageRoot(): string {
  // src/ in tests, dist/ when built: the addon lives in <package>/build/Release either way.
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('@stellar/native: cannot locate the package root from ' + __dirname);
}

function load(): Binding.Addon {
  const root = packageRoot();
  // STELLAR_NATIVE_ADDON swaps in another build of the addon (e.g. the CUDA emulator build, build/emu).
  const file = process.env.STELLAR_NATIVE_ADDON ? path.resolve(process.env.STELLAR_NATIVE_ADDON) : path.join(root, 'build', 'Release', 'stellar_native.node');
  if (!fs.existsSync(file)) {
    throw new Error(`@stellar/native: the addon is not built (${file} is missing). Run \`pnpm --filter @stellar/native build\`.`);
  }
  const req = createRequire(path.join(root, 'package.json'));
  return req(file) as Binding.Addon;
}

/** The addon itself. Prefer the typed helpers of @stellar/tensor; this is the narrow raw surface. */
export const native: Binding.Addon = load();

const kernelIds = new Map<string, number>();
/** Resolves a kernel name ("cpu/gemm") to its id once; throws if the kernel is not compiled in. */
export function kernel(name: string): number {
  let id = kernelIds.get(name);
  if (id === undefined) {
    id = native.kernelId(name);
    if (id < 0) throw new Error(`@stellar/native: no kernel named "${name}" in this build`);
    kernelIds.set(name, id);
  }
  return id;
}

/** Whether a kernel exists in this build (e.g. "cuda/gemm" only when compiled with nvcc). */
export function hasKernel(name: string): boolean {
  return native.kernelId(name) >= 0;
}

/** Converts the addon's coded errors into the typed CUDA errors. */
export function translateError(e: unknown): unknown {
  const code = (e as { code?: string })?.code;
  if (code === 'ERR_CUDA_NOT_COMPILED') return new CudaNotCompiled((e as Error).message);
  if (code === 'ERR_CUDA_UNAVAILABLE') return new CudaUnavailable((e as Error).message);
  return e;
}

/** Allocates a buffer on a device; CUDA requests raise CudaNotCompiled / CudaUnavailable when impossible. */
export function allocBuffer(nbytes: number, device: number = DEVICE_CPU): number {
  try {
    return native.alloc(nbytes, device);
  } catch (e) {
    throw translateError(e);
  }
}

export const memStats = (): Binding.MemStats => native.memStats();
export const numThreads = (): number => native.numThreads();
export const setNumThreads = (n: number): void => native.setNumThreads(n);
export const cpuFeatures = (): Binding.CpuFeatures => native.cpuFeatures();
export const buildInfo = (): Binding.BuildInfo => native.buildInfo();
export const cudaDeviceCount = (): number => native.cudaDeviceCount();
