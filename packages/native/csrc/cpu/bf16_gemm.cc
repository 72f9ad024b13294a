// bf16 GEMM dispatch (see bf16_gemm.h) and the portable widening path: bf16 panels -> fp32 -> sgemm_pool.
#include "bf16_gemm.h"
#include <cblas.h>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "../core/simd.h"
#include "../core/threadpool.h"
#include "../shared/dtype_convert.h"
#include "sgemm_pool.h"

namespace stellar {
namespace {

STELLAR_MULTIVERSION void widen_rows(const uint16_t* src, int64_t ld, int64_t rows, int64_t cols, float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* s = src + r * ld;
    float* d = dst + r * cols;
    for (int64_t c = 0; c < cols; ++c) d[c] = bf16_to_f32(s[c]);
  }
}

// Widens a stored (rows, cols) matrix with leading dimension ld into a dense fp32 copy, in parallel.
std::vector<float> widen(const uint16_t* src, int64_t ld, int64_t rows, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  parallel_for(rows, std::max<int64_t>(1, 65536 / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
    widen_rows(src + b * ld, ld, e - b, cols, out.data() + b * cols);
  });
  return out;
}

bool force_widen() {
  const char* e = std::getenv("STELLAR_BF16_GEMM");
  return e && std::strcmp(e, "widen") == 0;
}

}  // namespace

void bf16_gemm_widen(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                     const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // K-blocking bounds the fp32 scratch for large K; later blocks accumulate into C (beta = 1).
  const int64_t kb = std::max<int64_t>(256, (16ll << 20) / (4 * std::max<int64_t>(M + N, 1)));
  for (int64_t k0 = 0; k0 < K; k0 += kb) {
    int64_t kn = std::min(kb, K - k0);
    // A block: rows of op(A) over k0..k0+kn. Stored (M, K) -> sub-block (M, kn); stored (K, M) -> (kn, M).
    std::vector<float> a = ta ? widen(A + k0 * lda, lda, kn, M) : widen(A + k0, lda, M, kn);
    std::vector<float> b = tb ? widen(B + k0, ldb, N, kn) : widen(B + k0 * ldb, ldb, kn, N);
    sgemm_pool(ta, tb, M, N, kn, alpha, a.data(), ta ? M : kn, b.data(), tb ? kn : N, k0 == 0 ? beta : 1.0f, C, ldc);
  }
}

bool bf16_gemm_dpbf16_supported() {
#if defined(__x86_64__) && defined(__GNUC__)
  // __builtin_cpu_supports("avx512f") also checks that the OS saves the zmm state.
  static const bool ok = [] {
    CpuFeatures f = cpu_features();
    return f.avx512f && f.avx512bw && f.avx512bf16 && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl");
  }();
  return ok;
#else
  return false;
#endif
}

const char* bf16_gemm_path() { return !force_widen() && bf16_gemm_dpbf16_supported() ? "dpbf16" : "widen"; }

void bf16_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // BLAS would leave C untouched; the math says C = beta * C
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  if (!force_widen() && bf16_gemm_dpbf16_supported())
    bf16_gemm_dpbf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    bf16_gemm_widen(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace stellar
