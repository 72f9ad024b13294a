// bf16 x bf16 -> fp32 GEMM for BLAS builds without sbgemm. Two paths, one contract (every product of
// two bf16 values is exact in fp32 and the sums accumulate in fp32; only the summation order differs):
//  - dpbf16: a packed, blocked GEMM on the AVX512_BF16 dot-product instruction (bf16_gemm_avx512.cc),
//    chosen at run time when the CPU has it; about twice the fp32 FMA rate.
//  - widen: panels of A and B are widened to fp32 (exact) and multiplied with single-threaded cblas_sgemm pieces on our pool (sgemm_pool.h, bf16_gemm.cc).
// STELLAR_BF16_GEMM=widen forces the widening path (read on every call, so tests and benches can switch).
#pragma once
#include <cstdint>

namespace stellar {

// Row-major C (M, N) = alpha * op(A) op(B) + beta * C. A is (M, K) or, when ta, stored (K, M).
// beta == 0 overwrites C without reading it. Dispatches to one of the paths below.
void bf16_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The path bf16_gemm takes for the current CPU and STELLAR_BF16_GEMM: "dpbf16" or "widen".
const char* bf16_gemm_path();

// Whether this CPU (and OS) can run bf16_gemm_dpbf16.
bool bf16_gemm_dpbf16_supported();

// The two paths, same arguments as bf16_gemm (K > 0). bf16_gemm_dpbf16 needs bf16_gemm_dpbf16_supported().
// On the dpbf16 path bf16 subnormal inputs count as zero and fp32 subnormal partial sums are flushed to
// zero (vdpbf16ps ignores MXCSR: DAZ/FTZ, round-to-nearest-even); otherwise the two paths agree up to
// fp32 summation order.
void bf16_gemm_widen(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                     const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);
void bf16_gemm_dpbf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                      const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace stellar
