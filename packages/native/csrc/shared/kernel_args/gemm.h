// Arguments of cpu/gemm and cuda/gemm (C = alpha * A @ B + beta * C), decoded and checked once on the
// host for both, including the layout rule each operand must follow.
#pragma once
#include <algorithm>
#include <string>
#include "device.h"

namespace stellar {

// A (.., M, K) or its transpose, B (.., K, N) or its transpose, C (.., M, N). Batch dims are flattened by JS:
// each operand arrives as a 3-D view (batch, rows, cols) whose last dim is unit-stride or whose
// second-to-last is (a transposed matrix), so a BLAS leading dimension covers both cases.
struct MatView { bool trans; int64_t ld; int64_t bstride; };

inline MatView mat_view(const TDesc& t, const char* name) {
  STELLAR_CHECK(t.ndim == 3, std::string("gemm: ") + name + " must be 3-D (batch, rows, cols)");
  MatView v;
  v.bstride = t.strides[0];
  if (t.strides[2] == 1 || t.shape[2] == 1) { v.trans = false; v.ld = std::max<int64_t>(t.strides[1], std::max<int64_t>(t.shape[2], 1)); }
  else if (t.strides[1] == 1 || t.shape[1] == 1) { v.trans = true; v.ld = std::max<int64_t>(t.strides[2], std::max<int64_t>(t.shape[1], 1)); }
  else throw Error(std::string("gemm: ") + name + " needs a unit stride in one of its last two dims");
  return v;
}

struct GemmArgs {
  float alpha, beta;
  TDesc A, B, C;
  int64_t batch, M, N, K;
  MatView va, vb;
  int64_t ldc;  // C is row-major: its rows are ldc apart
  bool bf16;    // A and B bfloat16 (else float32); C is always float32
};

// args: alpha, beta, A, B, C
inline GemmArgs read_gemm_args(ArgReader& a, Device dev) {
  GemmArgs g;
  g.alpha = static_cast<float>(a.f());
  g.beta = static_cast<float>(a.f());
  g.A = a.t(); g.B = a.t(); g.C = a.t();
  const TDesc &A = g.A, &B = g.B, &C = g.C;
  require_on(dev, "cuda/gemm", {&A, &B, &C});
  STELLAR_CHECK(C.ndim == 3 && C.strides[2] == 1, "gemm: C must be a row-major 3-D view");
  STELLAR_CHECK(A.ndim == 3 && B.ndim == 3, "gemm: A and B must be 3-D (batch, rows, cols)");
  g.batch = C.shape[0]; g.M = C.shape[1]; g.N = C.shape[2]; g.K = A.shape[2];
  STELLAR_CHECK(A.shape[1] == g.M && B.shape[1] == g.K && B.shape[2] == g.N, "gemm: shape mismatch");
  STELLAR_CHECK(A.shape[0] == g.batch && B.shape[0] == g.batch, "gemm: batch mismatch");
  g.va = mat_view(A, "A");
  g.vb = mat_view(B, "B");
  g.ldc = std::max<int64_t>(C.strides[1], std::max<int64_t>(g.N, 1));
  g.bf16 = A.dtype == DType::BF16;
  STELLAR_CHECK(A.dtype == B.dtype && (A.dtype == DType::F32 || g.bf16) && C.dtype == DType::F32,
                "gemm: inputs must both be float32 or both bfloat16, output float32");
  return g;
}

}  // namespace stellar
