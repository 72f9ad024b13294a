// The fp32 entry of the small-M GEMM (see gemm_small.h) and the run-time ISA choice shared with gemm_w8.
#include "gemm_small.h"
#include <vector>

namespace stellar {

namespace sg {
int isa_level() {
  const CpuFeatures f = cpu_features();
  if (f.avx512f && f.avx512bw) return 2;
  if (f.avx2 && f.fma) return 1;
  return 0;
}
}  // namespace sg

namespace {
STELLAR_SMALL_GEMM_ENTRY(small_f32, sg::F32Rows)
}  // namespace

void gemm_small_f32(bool ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* W, int64_t ldw, float beta, float* C, int64_t ldc) {
  std::vector<float> packed;
  if (ta) {  // A is stored (K, M): gather its M columns into rows once
    packed.resize(static_cast<size_t>(M * K));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t m = 0; m < M; ++m) packed[m * K + k] = A[k * lda + m];
    A = packed.data();
    lda = K;
  }
  const sg::Problem g{M, N, K, A, lda, alpha, beta, C, ldc, nullptr};
  const sg::F32Rows w{W, ldw};
  sg::split_rows(g, [&](int64_t n0, int64_t n1) { small_f32(g, w, n0, n1); });
}

}  // namespace stellar
