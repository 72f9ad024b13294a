// bf16 x bf16 -> fp32 GEMM for BLAS builds without sbgemm: panels of A and B are widened to fp32
// (exact: every bf16 value is an fp32 value) and multiplied with cblas_sgemm, so products
// accumulate in fp32 exactly as sbgemm's contract says. Widening is O(MK + KN) against O(MNK).
#pragma once
#include <cstdint>

namespace stellar {

// Row-major C (M, N) = alpha * op(A) op(B) + beta * C. A is (M, K) or, when ta, stored (K, M).
void bf16_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace stellar
