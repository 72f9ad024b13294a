// Arguments of the index kernels (cpu/ and cuda/ index_select, index_add, gather_last,
// scatter_add_last), decoded and checked once on the host for both devices.
#pragma once
#include "device.h"

namespace stellar {

inline void require_index_dtype(const TDesc& ids) {
  if (ids.dtype != DType::I32 && ids.dtype != DType::I64) throw Error("indices must be int32 or int64");
}

// Rows picked along one dim: the dense side viewed contiguous as (outer, n, inner), the picked side
// (outer, m, inner) with m = the number of indices.
struct IndexAlongArgs {
  int64_t outer, n, inner, m;
  TDesc src, ids, dst;  // index_select: src = x (outer, n, inner), dst = y; index_add: src (outer, m, inner), dst
};

// y (outer, m, inner) = x (outer, n, inner) rows picked by ids. args: outer, n, inner, x, ids, y
inline IndexAlongArgs read_index_select_args(ArgReader& a, Device dev) {
  IndexAlongArgs r;
  r.outer = a.i(); r.n = a.i(); r.inner = a.i();
  r.src = a.t(); r.ids = a.t(); r.dst = a.t();
  require_on(dev, "cuda/index_select", {&r.src, &r.ids, &r.dst});
  STELLAR_CHECK(r.src.contiguous() && r.dst.contiguous() && r.src.dtype == r.dst.dtype, "index_select: contiguous same-dtype views expected");
  require_index_dtype(r.ids);
  r.m = r.ids.numel;
  return r;
}

// dst (outer, n, inner) += src (outer, m, inner) scattered by ids. args: outer, n, inner, src, ids, dst
inline IndexAlongArgs read_index_add_args(ArgReader& a, Device dev) {
  IndexAlongArgs r;
  r.outer = a.i(); r.n = a.i(); r.inner = a.i();
  r.src = a.t(); r.ids = a.t(); r.dst = a.t();
  require_on(dev, "cuda/index_add", {&r.src, &r.ids, &r.dst});
  STELLAR_CHECK(r.src.contiguous() && r.dst.contiguous() && r.src.dtype == DType::F32 && r.dst.dtype == DType::F32,
                "index_add: contiguous float32 views expected");
  require_index_dtype(r.ids);
  r.m = r.ids.numel;
  return r;
}

// Along the last dim: a dense (R, V) side and (R, K) indices with their (R, K) values, all contiguous.
struct IndexLastArgs {
  TDesc src, ids, dst;  // gather: src = x (R, V), dst = y (R, K); scatter_add: src (R, K), dst (R, V)
  int64_t R, V, K;
};

// y[r, k] = x[r, idx[r, k]]. args: x, idx, y
inline IndexLastArgs read_gather_last_args(ArgReader& a, Device dev) {
  IndexLastArgs r;
  r.src = a.t(); r.ids = a.t(); r.dst = a.t();
  require_on(dev, "cuda/gather_last", {&r.src, &r.ids, &r.dst});
  STELLAR_CHECK(r.src.contiguous() && r.ids.contiguous() && r.dst.contiguous() && r.src.dtype == DType::F32,
                "gather: contiguous float32 expected");
  require_index_dtype(r.ids);
  r.V = r.src.shape[r.src.ndim - 1];
  r.K = r.ids.shape[r.ids.ndim - 1];
  r.R = r.K ? r.ids.numel / r.K : 0;
  return r;
}

// dst[r, idx[r, k]] += src[r, k]. args: src, idx, dst
inline IndexLastArgs read_scatter_add_last_args(ArgReader& a, Device dev) {
  IndexLastArgs r;
  r.src = a.t(); r.ids = a.t(); r.dst = a.t();
  require_on(dev, "cuda/scatter_add_last", {&r.src, &r.ids, &r.dst});
  STELLAR_CHECK(r.src.contiguous() && r.ids.contiguous() && r.dst.contiguous(), "scatter_add: contiguous views expected");
  STELLAR_CHECK(r.src.dtype == DType::F32 && r.dst.dtype == DType::F32, "scatter_add: float32 expected");
  require_index_dtype(r.ids);
  r.V = r.dst.shape[r.dst.ndim - 1];
  r.K = r.ids.shape[r.ids.ndim - 1];
  r.R = r.K ? r.ids.numel / r.K : 0;
  return r;
}

}  // namespace stellar
