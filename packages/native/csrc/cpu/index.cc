// Index ops: index_select along a dim (embedding lookup is index_select on dim 0) with its
// scatter-add backward, and gather / scatter-add along the last dim.
#include <cstring>
#include <string>
#include <vector>
#include "../core/registry.h"
#include "../core/threadpool.h"
#include "../shared/kernel_args/index.h"

namespace stellar {
namespace {

// ids is int32 or int64 (checked by the argument readers).
inline int64_t load_index(const TDesc& ids, int64_t i) {
  int64_t off = ids.offset_of(i);
  return ids.dtype == DType::I32 ? ids.ptr<int32_t>()[off] : ids.ptr<int64_t>()[off];
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

// fn(r, k, v) for every slot (r, k) of the (R, K) indices with its index v, rows split over the pool;
// an index outside [0, V) throws bad(v) instead.
template <class F, class Bad>
void for_last_indices(const IndexLastArgs& g, F fn, Bad bad) {
  parallel_for(g.R, 1024, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t k = 0; k < g.K; ++k) {
        int64_t v = load_index(g.ids, r * g.K + k);
        if (v < 0 || v >= g.V) throw bad(v);
        fn(r, k, v);
      }
  });
}

}  // namespace

// x viewed contiguous as (outer, n, inner); ids (m); y contiguous (outer, m, inner).
// args: see shared/kernel_args/index.h (outer, n, inner, x, ids, y)
STELLAR_KERNEL("cpu/index_select", a) {
  const IndexAlongArgs r = read_index_select_args(a, Device::CPU);
  const int64_t n = r.n, m = r.m;
  std::vector<int64_t> idx;
  load_indices(r.ids, n, idx);
  size_t es = dtype_size(r.src.dtype), row = r.inner * es;
  const char* x = r.src.base;
  char* y = r.dst.base;
  parallel_for(r.outer * m, std::max<int64_t>(1, 65536 / std::max<int64_t>(row, 1)), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      int64_t o = k / m, j = k % m;
      std::memcpy(y + (o * m + j) * row, x + (o * n + idx[j]) * row, row);
    }
  });
}

// dst (outer, n, inner) += src (outer, m, inner) scattered by ids. Threads own disjoint column ranges,
// so repeated ids accumulate without races. args: see shared/kernel_args/index.h (outer, n, inner, src, ids, dst)
STELLAR_KERNEL("cpu/index_add", a) {
  const IndexAlongArgs r = read_index_add_args(a, Device::CPU);
  const int64_t n = r.n, m = r.m, inner = r.inner;
  std::vector<int64_t> idx;
  load_indices(r.ids, n, idx);
  const float* s = r.src.ptr<float>(); float* d = r.dst.ptr<float>();
  for (int64_t o = 0; o < r.outer; ++o) {
    parallel_for(inner, 256, [&](int64_t b, int64_t e) {
      for (int64_t j = 0; j < m; ++j) {
        const float* sr = s + (o * m + j) * inner;
        float* dr = d + (o * n + idx[j]) * inner;
        for (int64_t c = b; c < e; ++c) dr[c] += sr[c];
      }
    });
  }
}

// y[r, k] = x[r, idx[r, k]] over contiguous (R, V) and (R, K). args: see shared/kernel_args/index.h (x, idx, y)
STELLAR_KERNEL("cpu/gather_last", a) {
  const IndexLastArgs g = read_gather_last_args(a, Device::CPU);
  const float* x = g.src.ptr<float>(); float* y = g.dst.ptr<float>();
  for_last_indices(g, [&](int64_t r, int64_t k, int64_t v) { y[r * g.K + k] = x[r * g.V + v]; }, [&](int64_t v) {
    return Error("gather: index " + std::to_string(v) + " out of range for size " + std::to_string(g.V), "ERR_INDEX_OUT_OF_RANGE");
  });
}

// dst[r, idx[r, k]] += src[r, k]. args: see shared/kernel_args/index.h (src, idx, dst)
STELLAR_KERNEL("cpu/scatter_add_last", a) {
  const IndexLastArgs g = read_scatter_add_last_args(a, Device::CPU);
  const float* src = g.src.ptr<float>(); float* dst = g.dst.ptr<float>();
  // rows go to one thread each, so a row's updates apply in order
  for_last_indices(g, [&](int64_t r, int64_t k, int64_t v) { dst[r * g.V + v] += src[r * g.K + k]; }, [](int64_t) {
    return Error("scatter_add: index out of range", "ERR_INDEX_OUT_OF_RANGE");
  });
}

}  // namespace stellar
