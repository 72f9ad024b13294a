// Host/device helpers shared by the CUDA kernels: error checks, launch geometry, device-side strided
// iterators, block reductions, scratch memory and the error flag kernels raise instead of writing
// out of bounds. Compiled by nvcc, or by g++ against the CPU emulator of test/cuda-emu (STELLAR_CUDA_EMU).
#pragma once
#ifdef STELLAR_CUDA_EMU
#include "cuda_emu.h"  // test/cuda-emu/, on the include path of the emulator build only
#else
#include <cuda_runtime.h>
// STELLAR_LAUNCH(grid, block, kernel<T>)(args...): one spelling for nvcc and the emulator.
#define STELLAR_LAUNCH(grid, block, ...) __VA_ARGS__<<<(grid), (block)>>>
#endif
#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>
#include "../core/buffers.h"
#include "../core/common.h"
#include "../core/registry.h"
#include "../cpu/strided.h"
#include "../shared/kernel_args/device.h"

namespace stellar {
namespace cu {

[[noreturn]] void fail(cudaError_t e, const char* what);
inline void check(cudaError_t e, const char* what) { if (e != cudaSuccess) fail(e, what); }
#define STELLAR_CUDA_CHECK(expr) ::stellar::cu::check((expr), #expr)
// After a launch: reports launch-configuration errors now; execution errors surface at the next sync.
inline void launched(const char* name) { check(cudaGetLastError(), name); }

// Every tensor handed to a cuda/ kernel must live on the device.
inline void require_device(const char* kernel, std::initializer_list<const TDesc*> ts) { require_on(Device::CUDA, kernel, ts); }

constexpr int kBlock = 256;  // threads per block for 1-D kernels; a power of two (block_reduce needs it)
inline unsigned blocks_for(int64_t n, int block = kBlock) {
  int64_t b = (n + block - 1) / block;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(b, int64_t(1) << 20)));
}

// std::min / std::max are host-only without --expt-relaxed-constexpr.
__host__ __device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

#define STELLAR_GRID_LOOP(i, n)                                                                        \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);              \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// N same-shaped strided views, dims coalesced on the host (StridedIter), walked by flat index on the device.
template <int N>
struct DevIter {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];

  __device__ __forceinline__ void offsets(int64_t i, int64_t* off) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t n = shape[d], q = i / n, idx = i - q * n;
      i = q;
      for (int k = 0; k < N; ++k) off[k] += idx * strides[k][d];
    }
  }
};

template <int N>
DevIter<N> make_iter(const TDesc& ref, std::array<const TDesc*, N> views) {
  StridedIter<N> it(ref, views);
  DevIter<N> d{};
  d.ndim = it.ndim;
  for (int i = 0; i < it.ndim; ++i) {
    d.shape[i] = it.shape[i];
    for (int k = 0; k < N; ++k) d.strides[k][i] = it.strides[k][i];
  }
  return d;
}

// One view's element offsets by flat row-major index (indices, gathers).
struct DevView {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
  __device__ __forceinline__ int64_t offset_of(int64_t i) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t n = shape[d], q = i / n;
      off += (i - q * n) * strides[d];
      i = q;
    }
    return off;
  }
};
inline DevView dev_view(const TDesc& t) {
  DevView v{};
  v.ndim = t.ndim;
  for (int d = 0; d < t.ndim; ++d) { v.shape[d] = t.shape[d]; v.strides[d] = t.strides[d]; }
  return v;
}

// Elementwise map: f(offsets) for every flat index of the N coalesced views, one thread per element.
template <int N, class F>
__global__ void map_kernel(DevIter<N> it, int64_t n, F f) {
  STELLAR_GRID_LOOP(i, n) {
    int64_t off[N];
    it.offsets(i, off);
    f(off);
  }
}

template <int N, class F>
void launch_map(const char* name, const TDesc& ref, std::array<const TDesc*, N> views, F f) {
  if (ref.numel == 0) return;
  DevIter<N> it = make_iter<N>(ref, views);
  STELLAR_LAUNCH(blocks_for(ref.numel), kBlock, map_kernel<N, F>)(it, ref.numel, f);
  launched(name);
}

// Tree reduction over the block through `sh` (blockDim.x entries); every thread gets the result.
template <class T, class Op>
__device__ __forceinline__ T block_reduce(T v, T* sh, Op op) {
  int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] = op(sh[t], sh[t + s]);
    __syncthreads();
  }
  T r = sh[0];
  __syncthreads();
  return r;
}

// Temporary device memory from the caching allocator; blocks are reused in stream order, so
// releasing it right after an asynchronous launch is safe.
class Scratch {
 public:
  explicit Scratch(size_t n) : h_(buffer_alloc(n, Device::CUDA)), p_(buffer_ptr(h_)) {}
  ~Scratch() { buffer_free(h_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T> T* as() const { return reinterpret_cast<T*>(p_); }
 private:
  int64_t h_;
  char* p_;
};

// A device-side (flag, value) pair that kernels set on bad input (e.g. an index out of range).
// read() synchronizes; kernels that use it trade a sync for never touching memory they must not.
class ErrorFlag {
 public:
  ErrorFlag() : s_(2 * sizeof(long long)) { STELLAR_CUDA_CHECK(cudaMemsetAsync(s_.as<char>(), 0, 2 * sizeof(long long))); }
  long long* ptr() const { return s_.as<long long>(); }
  // true when raised; *value receives the offending value recorded by one of the raising threads
  bool read(long long* value) const {
    long long h[2];
    STELLAR_CUDA_CHECK(cudaMemcpy(h, s_.as<char>(), sizeof(h), cudaMemcpyDeviceToHost));
    *value = h[1];
    return h[0] != 0;
  }
 private:
  Scratch s_;
};
__device__ __forceinline__ void raise_flag(long long* f, long long value) { f[1] = value; f[0] = 1; }

}  // namespace cu
}  // namespace stellar
