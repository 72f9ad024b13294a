// Arguments of cpu/reduce and cuda/reduce, decoded and checked once on the host for both, with x
// split into its kept (outer) and reduced (inner) parts.
#pragma once
#include "../reduce_math.h"
#include "device.h"

namespace stellar {

struct ReduceArgs {
  int op;        // ReduceOp
  bool arg;      // argmax / argmin: y is int64
  TDesc x, y;
  int64_t O, R;  // kept and reduced element counts
  TDesc outer;   // x's kept dims (O elements), strides of x
  TDesc inner;   // x's reduced dims (R elements), strides of x
};

// args: op, nred (number of trailing reduced dims), x, y (y: float32, or int64 for arg ops; contiguous).
// The JS side permutes the reduced axes to the end (a free view), so x is (kept..., reduced...).
inline ReduceArgs read_reduce_args(ArgReader& a, Device dev) {
  ReduceArgs r;
  r.op = static_cast<int>(a.i());
  int nred = static_cast<int>(a.i());
  r.x = a.t(); r.y = a.t();
  const TDesc &x = r.x, &y = r.y;
  require_on(dev, "cuda/reduce", {&x, &y});
  STELLAR_CHECK(x.dtype == DType::F32, "reduce: input must be float32");
  STELLAR_CHECK(nred >= 0 && nred <= x.ndim, "reduce: bad number of reduced dims");
  STELLAR_CHECK(r.op >= R_SUM && r.op <= R_ARGMIN, "reduce: unknown op");
  int nkeep = x.ndim - nred;
  r.R = 1; r.O = 1;
  for (int d = 0; d < nkeep; ++d) r.O *= x.shape[d];
  for (int d = nkeep; d < x.ndim; ++d) r.R *= x.shape[d];
  STELLAR_CHECK(y.numel == r.O, "reduce: output size mismatch");
  r.arg = r.op == R_ARGMAX || r.op == R_ARGMIN;
  STELLAR_CHECK(r.arg ? y.dtype == DType::I64 : y.dtype == DType::F32, "reduce: wrong output dtype");
  STELLAR_CHECK(r.R > 0 || r.op == R_SUM || r.op == R_MEAN, "reduce: max/min/argmax/logsumexp of an empty dimension");
  STELLAR_CHECK(y.contiguous(), "reduce: output must be contiguous");
  r.inner = x; r.inner.ndim = nred; r.inner.numel = r.R;
  for (int d = 0; d < nred; ++d) { r.inner.shape[d] = x.shape[nkeep + d]; r.inner.strides[d] = x.strides[nkeep + d]; }
  r.outer = x; r.outer.ndim = nkeep; r.outer.numel = r.O;
  for (int d = 0; d < nkeep; ++d) { r.outer.shape[d] = x.shape[d]; r.outer.strides[d] = x.strides[d]; }
  return r;
}

}  // namespace stellar
