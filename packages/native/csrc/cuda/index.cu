// CUDA twins of cpu/index.cc: index_select / index_add along a dim and gather / scatter-add along the
// last dim. Out-of-range indices raise a device flag that is read back after the launch and thrown
// as ERR_INDEX_OUT_OF_RANGE (the offending element is skipped, never written out of bounds).
#include <string>
#include "cuda_common.cuh"

namespace stellar {
namespace {

__device__ __forceinline__ int64_t load_index(const char* ids, bool i64, int64_t off) {
  return i64 ? reinterpret_cast<const int64_t*>(ids)[off] : static_cast<int64_t>(reinterpret_cast<const int32_t*>(ids)[off]);
}

void require_ids(const TDesc& ids) {
  if (ids.dtype != DType::I32 && ids.dtype != DType::I64) throw Error("indices must be int32 or int64");
}

void throw_if_raised(const cu::ErrorFlag& f, const std::string& what, int64_t bound) {
  long long v = 0;
  if (f.read(&v))
    throw Error(what + ": index " + std::to_string(v) + " is out of range for a dimension of size " + std::to_string(bound),
                "ERR_INDEX_OUT_OF_RANGE");
}

// y (outer, m, inner) = x (outer, n, inner) rows picked by ids; W is a word of the element size.
template <class W>
__global__ void index_select_kernel(const W* x, const char* ids, bool i64, cu::DevView iv, W* y,
                                    int64_t n, int64_t m, int64_t inner, int64_t total, long long* flag) {
  STELLAR_GRID_LOOP(e, total) {
    int64_t c = e % inner, oj = e / inner, j = oj % m, o = oj / m;
    int64_t raw = load_index(ids, i64, iv.offset_of(j)), v = raw < 0 ? raw + n : raw;
    if (v < 0 || v >= n) { cu::raise_flag(flag, raw); continue; }
    y[e] = x[(o * n + v) * inner + c];
  }
}

// dst (outer, n, inner) += src (outer, m, inner) scattered by ids; repeated ids accumulate atomically.
__global__ void index_add_kernel(const float* src, const char* ids, bool i64, cu::DevView iv, float* dst,
                                 int64_t n, int64_t m, int64_t inner, int64_t total, long long* flag) {
  STELLAR_GRID_LOOP(e, total) {
    int64_t c = e % inner, oj = e / inner, j = oj % m, o = oj / m;
    int64_t raw = load_index(ids, i64, iv.offset_of(j)), v = raw < 0 ? raw + n : raw;
    if (v < 0 || v >= n) { cu::raise_flag(flag, raw); continue; }
    atomicAdd(dst + (o * n + v) * inner + c, src[e]);
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
// args: outer, n, inner, x, ids, y
STELLAR_KERNEL("cuda/index_select", a) {
  int64_t outer = a.i(), n = a.i(), inner = a.i();
  TDesc x = a.t(), ids = a.t(), y = a.t();
  cu::require_device("cuda/index_select", {&x, &ids, &y});
  STELLAR_CHECK(x.contiguous() && y.contiguous() && x.dtype == y.dtype, "index_select: contiguous same-dtype views expected");
  require_ids(ids);
  int64_t m = ids.numel, total = outer * m * inner;
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

// dst (outer, n, inner) += src (outer, m, inner) scattered by ids. args: outer, n, inner, src, ids, dst
STELLAR_KERNEL("cuda/index_add", a) {
  int64_t outer = a.i(), n = a.i(), inner = a.i();
  TDesc src = a.t(), ids = a.t(), dst = a.t();
  cu::require_device("cuda/index_add", {&src, &ids, &dst});
  STELLAR_CHECK(src.contiguous() && dst.contiguous() && src.dtype == DType::F32 && dst.dtype == DType::F32,
                "index_add: contiguous float32 views expected");
  require_ids(ids);
  int64_t m = ids.numel, total = outer * m * inner;
  if (total == 0) return;
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(cu::blocks_for(total), cu::kBlock, index_add_kernel)(
      src.ptr<float>(), ids.base, ids.dtype == DType::I64, cu::dev_view(ids), dst.ptr<float>(), n, m, inner, total, flag.ptr());
  cu::launched("cuda/index_add");
  throw_if_raised(flag, "index_add", n);
}

// y[r, k] = x[r, idx[r, k]] over contiguous (R, V) and (R, K). args: x, idx, y
STELLAR_KERNEL("cuda/gather_last", a) {
  TDesc x = a.t(), ids = a.t(), y = a.t();
  cu::require_device("cuda/gather_last", {&x, &ids, &y});
  STELLAR_CHECK(x.contiguous() && ids.contiguous() && y.contiguous() && x.dtype == DType::F32, "gather: contiguous float32 expected");
  require_ids(ids);
  int64_t V = x.shape[x.ndim - 1], K = ids.shape[ids.ndim - 1], R = K ? ids.numel / K : 0;
  if (R * K == 0) return;
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(cu::blocks_for(R * K), cu::kBlock, gather_last_kernel)(
      x.ptr<float>(), ids.base, ids.dtype == DType::I64, y.ptr<float>(), V, K, R * K, flag.ptr());
  cu::launched("cuda/gather_last");
  throw_if_raised(flag, "gather", V);
}

// dst[r, idx[r, k]] += src[r, k]. args: src, idx, dst
STELLAR_KERNEL("cuda/scatter_add_last", a) {
  TDesc src = a.t(), ids = a.t(), dst = a.t();
  cu::require_device("cuda/scatter_add_last", {&src, &ids, &dst});
  STELLAR_CHECK(src.contiguous() && ids.contiguous() && dst.contiguous(), "scatter_add: contiguous views expected");
  STELLAR_CHECK(src.dtype == DType::F32 && dst.dtype == DType::F32, "scatter_add: float32 expected");
  require_ids(ids);
  int64_t V = dst.shape[dst.ndim - 1], K = ids.shape[ids.ndim - 1], R = K ? ids.numel / K : 0;
  if (R == 0) return;
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(cu::blocks_for(R), cu::kBlock, scatter_add_last_kernel)(
      src.ptr<float>(), ids.base, ids.dtype == DType::I64, dst.ptr<float>(), V, K, R, flag.ptr());
  cu::launched("cuda/scatter_add_last");
  throw_if_raised(flag, "scatter_add", V);
}

}  // namespace stellar
