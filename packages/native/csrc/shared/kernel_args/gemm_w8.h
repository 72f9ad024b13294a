// Arguments of cpu/gemm_w8 and cuda/gemm_w8 (C (M, N) = A (M, K) @ (scale * Wq)^T, Wq int8 (N, K) with one
// symmetric scale per output row), decoded and checked once on the host for both, plus the
// per-element dequantization both compute.
#pragma once
#include <cstdint>
#include "../hd.h"
#include "device.h"

namespace stellar {

// Wq is an int8 tensor; kernels may read its bytes as uint8 and reinterpret them here.
STELLAR_HD float w8_value(uint8_t byte) { return static_cast<float>(static_cast<int8_t>(byte)); }
// The row's dot product sum_k a[k] * q[k] is scaled once: scale * sum equals sum of a * (scale * q)
// up to rounding, and keeps the inner loop on integers converted to float.
STELLAR_HD float w8_output(float dot, float scale) { return dot * scale; }

struct GemmW8Args {
  TDesc A, Wq, scale, C;
  int64_t M, N, K;
};

// args: A (M, K) float32 (unit last stride), Wq (N, K) int8 (unit last stride),
//       scale (N) float32 contiguous, C (M, N) float32 (unit last stride)
inline GemmW8Args read_gemm_w8_args(ArgReader& a, Device dev) {
  GemmW8Args g;
  g.A = a.t(); g.Wq = a.t(); g.scale = a.t(); g.C = a.t();
  const TDesc &A = g.A, &W = g.Wq, &S = g.scale, &C = g.C;
  require_on(dev, "cuda/gemm_w8", {&A, &W, &S, &C});
  STELLAR_CHECK(A.ndim == 2 && W.ndim == 2 && S.ndim == 1 && C.ndim == 2, "gemm_w8: A (M, K), Wq (N, K), scale (N), C (M, N)");
  g.M = A.shape[0]; g.K = A.shape[1]; g.N = W.shape[0];
  STELLAR_CHECK(W.shape[1] == g.K, "gemm_w8: A and Wq disagree on K");
  STELLAR_CHECK(S.shape[0] == g.N && C.shape[0] == g.M && C.shape[1] == g.N, "gemm_w8: shape mismatch");
  STELLAR_CHECK(A.dtype == DType::F32 && C.dtype == DType::F32 && S.dtype == DType::F32, "gemm_w8: A, scale and C must be float32");
  STELLAR_CHECK(W.dtype == DType::I8, std::string("gemm_w8: Wq must be int8, got ") + dtype_name(W.dtype));
  STELLAR_CHECK((A.strides[1] == 1 || g.K <= 1) && (W.strides[1] == 1 || g.K <= 1) && (C.strides[1] == 1 || g.N <= 1),
                "gemm_w8: A, Wq and C need a unit stride in their last dim");
  STELLAR_CHECK(S.strides[0] == 1 || g.N <= 1, "gemm_w8: scale must be contiguous");
  return g;
}

}  // namespace stellar
