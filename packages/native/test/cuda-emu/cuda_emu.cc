// The emulator's runtime: host memory standing in for device memory, and the fiber scheduler that
// runs one block's threads cooperatively (switching at __syncthreads), in forward order for even
// blocks and reverse order for odd ones so that a missing barrier changes results and fails a test.
#include "cuda_emu.h"
#include <ucontext.h>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace stellar_emu {
namespace {

constexpr size_t kStack = 256 * 1024;

struct Fiber {
  ucontext_t ctx;
  ThreadState state;
  bool done = false, waiting = false;
};

thread_local ThreadState* g_state = nullptr;
thread_local Fiber* g_fiber = nullptr;
thread_local ucontext_t g_sched;
thread_local const std::function<void()>* g_body = nullptr;
thread_local std::vector<char>* g_stacks = nullptr;
cudaError_t g_last = cudaSuccess;

void fiber_main() {
  (*g_body)();
  g_fiber->done = true;  // returning resumes uc_link (the scheduler)
}

}  // namespace

ThreadState& current() {
  if (!g_state) { std::fprintf(stderr, "cuda emulator: device code outside a launch\n"); std::abort(); }
  return *g_state;
}

void sync_block() {
  Fiber* f = g_fiber;
  f->waiting = true;
  swapcontext(&f->ctx, &g_sched);
}

void run_grid(dim3 grid, dim3 block, const std::function<void()>& body) {
  const size_t nt = size_t(block.x) * block.y * block.z;
  if (nt == 0 || nt > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535) {
    g_last = cudaErrorInvalidValue;
    return;
  }
  if (!g_stacks) g_stacks = new std::vector<char>();
  if (g_stacks->size() < nt * kStack) g_stacks->resize(nt * kStack);
  std::vector<Fiber> fibers(nt);
  g_body = &body;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        for (size_t t = 0; t < nt; ++t) {
          Fiber& f = fibers[t];
          f.done = f.waiting = false;
          f.state.thread = {unsigned(t % block.x), unsigned((t / block.x) % block.y), unsigned(t / (size_t(block.x) * block.y))};
          f.state.block = {bx, by, bz};
          f.state.block_dim = block;
          f.state.grid_dim = grid;
          getcontext(&f.ctx);
          f.ctx.uc_stack.ss_sp = g_stacks->data() + t * kStack;
          f.ctx.uc_stack.ss_size = kStack;
          f.ctx.uc_link = &g_sched;
          makecontext(&f.ctx, fiber_main, 0);
        }
        const bool reverse = (bx + by + bz) % 2 == 1;
        for (;;) {
          size_t done = 0, waiting = 0;
          for (size_t i = 0; i < nt; ++i) {
            Fiber& f = fibers[reverse ? nt - 1 - i : i];
            if (f.done) { ++done; continue; }
            f.waiting = false;
            g_fiber = &f;
            g_state = &f.state;
            swapcontext(&g_sched, &f.ctx);
            if (f.done) ++done; else ++waiting;
          }
          g_state = nullptr;
          g_fiber = nullptr;
          if (waiting == 0) break;
          if (done > 0) {  // some threads exited while others wait at a barrier: a hang or UB on a GPU
            std::fprintf(stderr, "cuda emulator: __syncthreads() not reached by every thread of block (%u,%u,%u)\n", bx, by, bz);
            std::abort();
          }
        }
      }
}

}  // namespace stellar_emu

cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaMalloc(void** p, size_t n) {
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind) { std::memmove(dst, src, n); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) { std::memset(p, v, n); return cudaSuccess; }
cudaError_t cudaGetLastError() { cudaError_t e = stellar_emu::g_last; stellar_emu::g_last = cudaSuccess; return e; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
const char* cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaErrorEmulated"; }
const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "error in the CUDA emulator (bad launch geometry or allocation failure)"; }
