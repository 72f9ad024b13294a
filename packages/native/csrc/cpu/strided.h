// Helpers for walking several same-shaped strided views together: dimension coalescing and a
// row iterator whose innermost dimension is handed to a (vectorizable) inner loop.
#pragma once
#include <array>
#include "../core/common.h"
#include "../core/threadpool.h"

namespace stellar {

// N views of one shape. After coalesce(), adjacent dims that are contiguous for every view are merged.
template <int N>
struct StridedIter {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];

  StridedIter(const TDesc& ref, std::array<const TDesc*, N> views) {
    ndim = ref.ndim;
    for (int d = 0; d < ndim; ++d) shape[d] = ref.shape[d];
    for (int k = 0; k < N; ++k)
      for (int d = 0; d < ndim; ++d) strides[k][d] = views[k]->strides[d];
    coalesce();
  }

  void coalesce() {
    if (ndim == 0) { ndim = 1; shape[0] = 1; for (int k = 0; k < N; ++k) strides[k][0] = 0; return; }
    // Drop size-1 dims, then merge d-1 into d when stride[d-1] == stride[d] * shape[d] for all views.
    int w = 0;
    for (int d = 0; d < ndim; ++d) {
      if (shape[d] == 1 && ndim > 1) continue;
      shape[w] = shape[d];
      for (int k = 0; k < N; ++k) strides[k][w] = strides[k][d];
      ++w;
    }
    if (w == 0) { w = 1; shape[0] = 1; for (int k = 0; k < N; ++k) strides[k][0] = 0; }
    ndim = w;
    int out = 0;
    for (int d = 1; d < ndim; ++d) {
      bool merge = true;
      for (int k = 0; k < N; ++k)
        if (strides[k][out] != strides[k][d] * shape[d]) { merge = false; break; }
      if (merge) {
        shape[out] *= shape[d];
        for (int k = 0; k < N; ++k) strides[k][out] = strides[k][d];
      } else {
        ++out;
        shape[out] = shape[d];
        for (int k = 0; k < N; ++k) strides[k][out] = strides[k][d];
      }
    }
    ndim = out + 1;
  }

  int64_t inner() const { return shape[ndim - 1]; }
  int64_t rows() const { int64_t r = 1; for (int d = 0; d < ndim - 1; ++d) r *= shape[d]; return r; }
  int64_t inner_stride(int k) const { return strides[k][ndim - 1]; }

  // Element offsets of the start of row r for each view.
  void row_offsets(int64_t r, int64_t* off) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 2; d >= 0; --d) {
      int64_t i = r % shape[d];
      r /= shape[d];
      for (int k = 0; k < N; ++k) off[k] += i * strides[k][d];
    }
  }

  // fn(offsets[N], len) over all rows, in parallel when the total work is large. Rows longer than
  // grain_elems are handed out in pieces of grain_elems (fn sees each piece as a shorter row): a
  // contiguous tensor coalesces into a single row, which would otherwise run on one thread.
  template <typename F>
  void for_each_row(F&& fn, int64_t grain_elems = 32768) const {
    int64_t R = rows(), L = inner();
    if (L <= grain_elems) {
      int64_t grain_rows = std::max<int64_t>(1, grain_elems / std::max<int64_t>(L, 1));
      parallel_for(R, grain_rows, [&](int64_t b, int64_t e) {
        int64_t off[N];
        for (int64_t r = b; r < e; ++r) { row_offsets(r, off); fn(off, L); }
      });
      return;
    }
    int64_t pieces = (L + grain_elems - 1) / grain_elems;
    parallel_for(R * pieces, 1, [&](int64_t b, int64_t e) {
      int64_t off[N];
      for (int64_t t = b; t < e; ++t) {
        int64_t r = t / pieces, start = (t % pieces) * grain_elems;
        row_offsets(r, off);
        for (int k = 0; k < N; ++k) off[k] += start * strides[k][ndim - 1];
        fn(off, std::min<int64_t>(grain_elems, L - start));
      }
    });
  }
};

}  // namespace stellar
