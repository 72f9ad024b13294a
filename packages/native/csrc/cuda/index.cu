// CUDA twins of cpu/index.cc: index_select / index_add along a dim and gather / scatter-add along the
// last dim. Out-of-range indices raise a device flag that is read back after the launch and thrown
// as ERR_INDEX_OUT_OF_RANGE (the offending element is skipped, never written out of bounds).
#include <string>
#include "../shared/kernel_args/index.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

__device__ __forceinline__ int64_t load_index(const char* ids, bool i64, int64_t off) {
  return i64 ? reinterpret_cast<const int64_t*>(ids)[off] : static_cast<int64_t>(reinterpret_cast<const int32_t*>(ids)[off]);
}

void throw_if_raised(const cu::ErrorFlag& f, const std::string& what, int64_t bound) {
  long long v = 0;
  if (f.read(&v))
    throw Error(what + ": index " + std::to_string(v) + " is out of range for a dimension of size " + std::to_string(bound),
                "ERR_INDEX_OUT_OF_RANGE");
}

// Element e of the picked side (outer, m, inner) -> its element of the dense side (outer, n, inner),
// indices wrapping once from the end; -1 (flag raised with the raw index) when out of range.
__device__ __forceinline__ int64_t dense_elem(int64_t e, const char* ids, bool i64, const cu::DevView& iv, int64_t n,
                                              int64_t m, int64_t inner, long long* flag) {
  const int64_t c = e % inner, oj = e / inner, j = oj % m, o = oj / m;
  const int64_t raw = load_index(ids, i64, iv.offset_of(j)), v = raw < 0 ? raw + n : raw;
  if (v < 0 || v >= n) { cu::raise_flag(flag, raw); return -1; }
  return (o * n + v) * inner + c;
}

// y (outer, m, inner) = x (outer, n, inner) rows picked by ids; W is a word of the element size.
template <class W>
__global__ void index_select_kernel(const W* x, const char* ids, bool i64, cu::DevView iv, W* y,
                                    int64_t n, int64_t m, int64_t inner, int64_t total, long long* flag) {
  STELLAR_GRID_LOOP(e, total) {
    const int64_t s = dense_elem(e, ids, i64, iv, n, m, inner, flag);
    if (s >= 0) y[e] = x[s];
  }
}

// dst (outer, n, inner) += src (outer, m, inner) scattered by ids; repeated ids accumulate atomically.
__global__ void index_add_kernel(const float* src, const char* ids, bool i64, cu::DevView iv, float* dst,
                                 int64_t n, int64_t m, int64_t inner, int64_t total, long long* flag) {
  STELLAR_GRID_LOOP(e, total) {
    const int64_t d = dense_elem(e, ids, i64, iv, n, m, inner, flag);
    if (d >= 0) atomicAdd(dst + d, src[e]);
  }
}

// y[r, k] = x[r, idx[r, k]] over contiguous (R, V) and (R, K).
__global__ void gather_last_kernel(const float* x, const char* ids, bool i64, float* y, int64_t V, int64_t K,
                                   int64_t total, long long* flag) {
  STELLAR_GRID_LOOP(e, total) {
    int64_t v = load_index(ids, i64, e);
    if (v < 0 || v >= V) { cu::raise_flag(flag, v); continue; }
    y[e] = x[(e / K) * V + v];
  }
}

// dst[r, idx[r, k]] += src[r, k]: one thread per row, so the row's updates apply in order like the CPU's.
__global__ void scatter_add_last_kernel(const float* src, const char* ids, bool i64, float* dst, int64_t V, int64_t K,
                                        int64_t R, long long* flag) {
  STELLAR_GRID_LOOP(r, R) {
    for (int64_t k = 0; k < K; ++k) {
      int64_t v = load_index(ids, i64, r * K + k);
      if (v < 0 || v >= V) { cu::raise_flag(flag, v); continue; }
      dst[r * V + v] += src[r * K + k];
    }
  }
}

template <class W>
void index_select_as(const TDesc& x, const TDesc& ids, const TDesc& y, int64_t n, int64_t m, int64_t inner, int64_t total, long long* flag) {
  STELLAR_LAUNCH(cu::blocks_for(total), cu::kBlock, index_select_kernel<W>)(
      x.ptr<W>(), ids.base, ids.dtype == DType::I64, cu::dev_view(ids), y.ptr<W>(), n, m, inner, total, flag);
}

}  // namespace

// x viewed contiguous as (outer, n, inner); ids (m); y contiguous (outer, m, inner).
// args: see shared/kernel_args/index.h (as cpu/index_select)
STELLAR_KERNEL("cuda/index_select", a) {
  const IndexAlongArgs r = read_index_select_args(a, Device::CUDA);
  const TDesc &x = r.src, &ids = r.ids, &y = r.dst;
  const int64_t n = r.n, m = r.m, inner = r.inner, total = r.outer * m * inner;
  if (total == 0) return;
  cu::ErrorFlag flag;
  switch (dtype_size(x.dtype)) {
    case 1: index_select_as<uint8_t>(x, ids, y, n, m, inner, total, flag.ptr()); break;
    case 2: index_select_as<uint16_t>(x, ids, y, n, m, inner, total, flag.ptr()); break;
    case 4: index_select_as<uint32_t>(x, ids, y, n, m, inner, total, flag.ptr()); break;
    default: index_select_as<unsigned long long>(x, ids, y, n, m, inner, total, flag.ptr()); break;
  }
  cu::launched("cuda/index_select");
  throw_if_raised(flag, "index_select", n);
}

// dst (outer, n, inner) += src (outer, m, inner) scattered by ids.
// args: see shared/kernel_args/index.h (as cpu/index_add)
STELLAR_KERNEL("cuda/index_add", a) {
  const IndexAlongArgs r = read_index_add_args(a, Device::CUDA);
  const int64_t total = r.outer * r.m * r.inner;
  if (total == 0) return;
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(cu::blocks_for(total), cu::kBlock, index_add_kernel)(
      r.src.ptr<float>(), r.ids.base, r.ids.dtype == DType::I64, cu::dev_view(r.ids), r.dst.ptr<float>(), r.n, r.m, r.inner,
      total, flag.ptr());
  cu::launched("cuda/index_add");
  throw_if_raised(flag, "index_add", r.n);
}

// y[r, k] = x[r, idx[r, k]] over contiguous (R, V) and (R, K). args: see shared/kernel_args/index.h (as cpu/gather_last)
STELLAR_KERNEL("cuda/gather_last", a) {
  const IndexLastArgs g = read_gather_last_args(a, Device::CUDA);
  const int64_t n = g.R * g.K;
  if (n == 0) return;
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(cu::blocks_for(n), cu::kBlock, gather_last_kernel)(
      g.src.ptr<float>(), g.ids.base, g.ids.dtype == DType::I64, g.dst.ptr<float>(), g.V, g.K, n, flag.ptr());
  cu::launched("cuda/gather_last");
  throw_if_raised(flag, "gather", g.V);
}

// dst[r, idx[r, k]] += src[r, k]. args: see shared/kernel_args/index.h (as cpu/scatter_add_last)
STELLAR_KERNEL("cuda/scatter_add_last", a) {
  const IndexLastArgs g = read_scatter_add_last_args(a, Device::CUDA);
  if (g.R == 0) return;
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(cu::blocks_for(g.R), cu::kBlock, scatter_add_last_kernel)(
      g.src.ptr<float>(), g.ids.base, g.ids.dtype == DType::I64, g.dst.ptr<float>(), g.V, g.K, g.R, flag.ptr());
  cu::launched("cuda/scatter_add_last");
  throw_if_raised(flag, "scatter_add", g.V);
}

}  // namespace stellar
