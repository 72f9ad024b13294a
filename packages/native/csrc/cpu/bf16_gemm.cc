// Implementation of the widening bf16 GEMM (see bf16_gemm.h).
#include "bf16_gemm.h"
#include <cblas.h>
#include <algorithm>
#include <vector>
#include "../core/simd.h"
#include "../core/threadpool.h"
#include "../shared/dtype_convert.h"

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

}  // namespace

void bf16_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // K-blocking bounds the fp32 scratch for large K; later blocks accumulate into C (beta = 1).
  const int64_t kb = std::max<int64_t>(256, (16ll << 20) / (4 * std::max<int64_t>(M + N, 1)));
  for (int64_t k0 = 0; k0 < K; k0 += kb) {
    int64_t kn = std::min(kb, K - k0);
    // A block: rows of op(A) over k0..k0+kn. Stored (M, K) -> sub-block (M, kn); stored (K, M) -> (kn, M).
    std::vector<float> a = ta ? widen(A + k0 * lda, lda, kn, M) : widen(A + k0, lda, M, kn);
    std::vector<float> b = tb ? widen(B + k0, ldb, N, kn) : widen(B + k0 * ldb, ldb, kn, N);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, kn, alpha,
                a.data(), ta ? M : kn, b.data(), tb ? kn : N, k0 == 0 ? beta : 1.0f, C, ldc);
  }
}

}  // namespace stellar
