// fp32 GEMM split across Stellar's thread pool, each piece one single-threaded OpenBLAS call.
#pragma once
#include <cstdint>

namespace stellar {

// Row-major C = alpha * op(A) @ op(B) + beta * C, like cblas_sgemm. OpenBLAS's own workers spin for
// ~0.1 s after every threaded call; in a training step, where GEMMs alternate with our kernels every
// few milliseconds, they keep a core busy that the pool's kernels (attention, norms, ...) need, which
// roughly halves those kernels' speed. Running the GEMM pieces on the pool itself leaves no spinner.
void sgemm_pool(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace stellar
