// Index ops: index_select along a dim (embedding lookup is index_select on dim 0) with its
// scatter-add backward, and gather / scatter-add along the last dim.
#include <cstring>
#include <string>
#include <vector>
#include "../core/registry.h"
#include "../core/threadpool.h"

namespace stellar {
namespace {

inline int64_t load_index(const TDesc& ids, int64_t i) {
  int64_t off = ids.offset_of(i);
  if (ids.dtype == DType::I32) return ids.ptr<int32_t>()[off];
  if (ids.dtype == DType::I64) return ids.ptr<int64_t>()[off];
  throw Error("indices must be int32 or int64");
}

void load_indices(const TDesc& ids, int64_t bound, std::vector<int64_t>& out) {
  out.resize(ids.numel);
  for (int64_t i = 0; i < ids.numel; ++i) {
    int64_t v = load_index(ids, i);
    if (v < 0) v += bound;
    if (v < 0 || v >= bound)
      throw Error("index " + std::to_string(load_index(ids, i)) + " is out of range for a dimension of size " + std::to_string(bound), "ERR_INDEX_OUT_OF_RANGE");
    out[i] = v;
  }
}

}  // namespace

// x viewed contiguous as (outer, n, inner); ids (m); y contiguous (outer, m, inner).
// args: outer, n, inner, x, ids, y
STELLAR_KERNEL("cpu/index_select", a) {
  int64_t outer = a.i(), n = a.i(), inner = a.i();
  TDesc x = a.t(), ids = a.t(), y = a.t();
  STELLAR_CHECK(x.contiguous() && y.contiguous() && x.dtype == y.dtype, "index_select: contiguous same-dtype views expected");
  std::vector<int64_t> idx;
  load_indices(ids, n, idx);
  int64_t m = static_cast<int64_t>(idx.size());
  size_t es = dtype_size(x.dtype), row = inner * es;
  parallel_for(outer * m, std::max<int64_t>(1, 65536 / std::max<int64_t>(row, 1)), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      int64_t o = k / m, j = k % m;
      std::memcpy(y.base + (o * m + j) * row, x.base + (o * n + idx[j]) * row, row);
    }
  });
}

// dst (outer, n, inner) += src (outer, m, inner) scattered by ids. Threads own disjoint column ranges,
// so repeated ids accumulate without races. args: outer, n, inner, src, ids, dst
STELLAR_KERNEL("cpu/index_add", a) {
  int64_t outer = a.i(), n = a.i(), inner = a.i();
  TDesc src = a.t(), ids = a.t(), dst = a.t();
  STELLAR_CHECK(src.contiguous() && dst.contiguous() && src.dtype == DType::F32 && dst.dtype == DType::F32,
                "index_add: contiguous float32 views expected");
  std::vector<int64_t> idx;
  load_indices(ids, n, idx);
  int64_t m = static_cast<int64_t>(idx.size());
  const float* s = src.ptr<float>(); float* d = dst.ptr<float>();
  for (int64_t o = 0; o < outer; ++o) {
    parallel_for(inner, 256, [&](int64_t b, int64_t e) {
      for (int64_t j = 0; j < m; ++j) {
        const float* sr = s + (o * m + j) * inner;
        float* dr = d + (o * n + idx[j]) * inner;
        for (int64_t c = b; c < e; ++c) dr[c] += sr[c];
      }
    });
  }
}

// y[r, k] = x[r, idx[r, k]] over contiguous (R, V) and (R, K). args: x, idx, y
STELLAR_KERNEL("cpu/gather_last", a) {
  TDesc x = a.t(), ids = a.t(), y = a.t();
  STELLAR_CHECK(x.contiguous() && ids.contiguous() && y.contiguous() && x.dtype == DType::F32, "gather: contiguous float32 expected");
  int64_t V = x.shape[x.ndim - 1], K = ids.shape[ids.ndim - 1], R = K ? ids.numel / K : 0;
  parallel_for(R, 1024, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t k = 0; k < K; ++k) {
        int64_t v = load_index(ids, r * K + k);
        if (v < 0 || v >= V) throw Error("gather: index " + std::to_string(v) + " out of range for size " + std::to_string(V), "ERR_INDEX_OUT_OF_RANGE");
        y.ptr<float>()[r * K + k] = x.ptr<float>()[r * V + v];
      }
  });
}

// dst[r, idx[r, k]] += src[r, k]. args: src, idx, dst
STELLAR_KERNEL("cpu/scatter_add_last", a) {
  TDesc src = a.t(), ids = a.t(), dst = a.t();
  STELLAR_CHECK(src.contiguous() && ids.contiguous() && dst.contiguous(), "scatter_add: contiguous views expected");
  int64_t V = dst.shape[dst.ndim - 1], K = ids.shape[ids.ndim - 1], R = K ? ids.numel / K : 0;
  parallel_for(R, 1024, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t k = 0; k < K; ++k) {
        int64_t v = load_index(ids, r * K + k);
        if (v < 0 || v >= V) throw Error("scatter_add: index out of range", "ERR_INDEX_OUT_OF_RANGE");
        dst.ptr<float>()[r * V + v] += src.ptr<float>()[r * K + k];
      }
  });
}

}  // namespace stellar
