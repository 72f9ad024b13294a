// A CPU emulator of the small CUDA subset our kernels use, so csrc/cuda/*.cu can be compiled by g++
// (with -DSTELLAR_CUDA_EMU) and run by the conformance tests on machines without a GPU. Each block runs
// its threads as cooperative fibers that switch at __syncthreads(); blocks run one after another, which
// is why __shared__ can be a function-local static. Not a performance tool, and not a proof of
// correctness on real hardware (no warps, no memory model, no async streams).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

struct uint3 { unsigned x, y, z; };
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorLaunchFailure = 719 };
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
typedef struct CUstream_st* cudaStream_t;

cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaMalloc(void** p, size_t n);
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t s = nullptr);
cudaError_t cudaGetLastError();
cudaError_t cudaDeviceSynchronize();
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);

namespace stellar_emu {

struct ThreadState { uint3 thread, block; dim3 block_dim, grid_dim; };
ThreadState& current();
void sync_block();
// Runs body once per (block, thread) of the grid; records a launch error on bad geometry or divergent barriers.
void run_grid(dim3 grid, dim3 block, const std::function<void()>& body);

template <class... P>
struct Launcher {
  dim3 grid, block;
  void (*kernel)(P...);
  template <class... A>
  void operator()(A&&... a) const {
    std::tuple<P...> args(std::forward<A>(a)...);  // converted to the parameter types, as a launch does
    void (*k)(P...) = kernel;
    run_grid(grid, block, [&] { std::apply(k, args); });
  }
};
template <class... P>
Launcher<P...> launcher(dim3 grid, dim3 block, void (*kernel)(P...)) { return {grid, block, kernel}; }

inline float atomic_add(float* p, float v) { float old = *p; *p = old + v; return old; }  // fibers never preempt

}  // namespace stellar_emu

#define threadIdx (::stellar_emu::current().thread)
#define blockIdx (::stellar_emu::current().block)
#define blockDim (::stellar_emu::current().block_dim)
#define gridDim (::stellar_emu::current().grid_dim)
#define __syncthreads() ::stellar_emu::sync_block()
#define atomicAdd(p, v) ::stellar_emu::atomic_add((p), (v))
#define STELLAR_LAUNCH(grid, block, ...) ::stellar_emu::launcher((grid), (block), __VA_ARGS__)
