// sgemm_pool (see sgemm_pool.h): the output is cut into pieces of rows (or of columns when it is wider
// than tall) that the pool threads take in turn, each computed by a single-threaded cblas_sgemm.
#include "sgemm_pool.h"
#include <cblas.h>
#include <algorithm>
#include <atomic>
#include "../core/threadpool.h"

namespace stellar {

void sgemm_pool(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // The pool resizes OpenBLAS to its own thread count (threadpool.cc); every piece here must run on
  // the calling thread only, so BLAS threading is switched off for these calls.
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  const CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  const int nt = num_threads();
  // Below ~2 MFLOP a split costs more in wake-ups than it saves.
  if (nt <= 1 || 2.0 * M * N * K < 2e6) {
    cblas_sgemm(CblasRowMajor, opa, opb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Pieces of whole 16-row (column) tiles, about four per thread, handed out on demand: when another
  // process takes part of a core (a shared host), the other thread takes more pieces instead of waiting.
  const int64_t kTile = 16;
  const bool by_rows = M >= N;
  const int64_t D = by_rows ? M : N;
  const int64_t tiles = (D + kTile - 1) / kTile;
  const int64_t piece = kTile * std::max<int64_t>(2, (tiles + 4 * nt - 1) / (4 * nt));   // >= 32 rows: BLAS stays efficient
  const int64_t npieces = (D + piece - 1) / piece;
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(nt, npieces), 1, [&](int64_t, int64_t) {
    for (int64_t p; (p = next.fetch_add(1)) < npieces;) {
      const int64_t lo = p * piece, hi = std::min(D, lo + piece);
      if (by_rows) {  // rows lo..hi of op(A) and of C
        const float* a = A + (ta ? lo : lo * lda);
        cblas_sgemm(CblasRowMajor, opa, opb, hi - lo, N, K, alpha, a, lda, B, ldb, beta, C + lo * ldc, ldc);
      } else {        // columns lo..hi of op(B) and of C
        const float* bp = B + (tb ? lo * ldb : lo);
        cblas_sgemm(CblasRowMajor, opa, opb, M, hi - lo, K, alpha, A, lda, bp, ldb, beta, C + lo, ldc);
      }
    }
  });
}

}  // namespace stellar
