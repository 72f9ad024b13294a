// The tile product of the CPU attention kernels: C (+)= A @ B with A broadcast from any strided view
// (K, V or a score tile in place) and B, C lane-contiguous, register-blocked for each vector width.
#include "lanes.h"

namespace stellar {
namespace attn {

template <int L>
struct TileGemm : Lanes<L> {
  ATTN_LANES(L)

  // C[r][0, NV*L) (+)= sum_k A[r*ars + k*acs] * B[k*ldb + (0, NV*L)] for r < R. A is broadcast one
  // scalar at a time, so it can be any strided view (K or V in place); B and C rows are lane-contiguous.
  template <int R, int NV, bool ACC>
  static ATTN_INLINE void mk(const float* __restrict A, int64_t ars, int64_t acs, const float* __restrict B, int64_t ldb,
                             int64_t K, float* __restrict C, int64_t ldc) {
    vf c[R][NV];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) c[r][v] = ACC ? ld(C + r * ldc + v * L) : vf{};
    for (int64_t k = 0; k < K; ++k) {
      vf b[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) b[v] = ld(B + k * ldb + v * L);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const float a = A[r * ars + k * acs];  // scalar * vector: a broadcast (an FMA operand on AVX-512)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) c[r][v] += a * b[v];
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) st(C + r * ldc + v * L, c[r][v]);
  }

  // Rows per register block: R * NV accumulators plus NV + 1 operands within 32 (AVX-512) or 16 registers.
  static constexpr int rows_for(int nv) { return L == 16 ? (nv <= 2 ? 8 : 4) : (nv == 1 ? 8 : nv == 2 ? 4 : 2); }

  template <int NV, bool ACC, int R>
  static ATTN_INLINE int64_t mk_run(int64_t r, int64_t M, const float* A, int64_t ars, int64_t acs, const float* B, int64_t ldb,
                                    int64_t K, float* C, int64_t ldc) {
    for (; r + R <= M; r += R) mk<R, NV, ACC>(A + r * ars, ars, acs, B, ldb, K, C + r * ldc, ldc);
    if constexpr (R > 1) r = mk_run<NV, ACC, R / 2>(r, M, A, ars, acs, B, ldb, K, C, ldc);
    return r;
  }

  // C (+)= A @ B over M rows and nv * L lanes, in chunks of up to 4 vectors.
  static ATTN_INLINE void gemm_impl(int nv, bool acc, int64_t M, const float* A, int64_t ars, int64_t acs, const float* B,
                                    int64_t ldb, int64_t K, float* C, int64_t ldc) {
    for (int c0 = 0; c0 < nv; c0 += 4) {
      const float* b = B + c0 * L;
      float* c = C + c0 * L;
      switch (std::min(4, nv - c0) * 2 + (acc ? 1 : 0)) {
        case 2: mk_run<1, false, rows_for(1)>(0, M, A, ars, acs, b, ldb, K, c, ldc); break;
        case 3: mk_run<1, true, rows_for(1)>(0, M, A, ars, acs, b, ldb, K, c, ldc); break;
        case 4: mk_run<2, false, rows_for(2)>(0, M, A, ars, acs, b, ldb, K, c, ldc); break;
        case 5: mk_run<2, true, rows_for(2)>(0, M, A, ars, acs, b, ldb, K, c, ldc); break;
        case 6: mk_run<3, false, rows_for(3)>(0, M, A, ars, acs, b, ldb, K, c, ldc); break;
        case 7: mk_run<3, true, rows_for(3)>(0, M, A, ars, acs, b, ldb, K, c, ldc); break;
        case 8: mk_run<4, false, rows_for(4)>(0, M, A, ars, acs, b, ldb, K, c, ldc); break;
        default: mk_run<4, true, rows_for(4)>(0, M, A, ars, acs, b, ldb, K, c, ldc); break;
      }
    }
  }
};

#define ATTN_GEMM_ENTRY(L_, TARGET)                                                                       \
  template <> TARGET void gemm<L_>(int nv, bool acc, int64_t M, const float* A, int64_t ars, int64_t acs, \
                                   const float* B, int64_t ldb, int64_t K, float* C, int64_t ldc) {       \
    TileGemm<L_>::gemm_impl(nv, acc, M, A, ars, acs, B, ldb, K, C, ldc);                                  \
  }
ATTN_FOR_EACH_WIDTH(ATTN_GEMM_ENTRY)

}  // namespace attn
}  // namespace stellar
