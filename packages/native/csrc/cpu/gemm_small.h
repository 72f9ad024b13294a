// Small-M GEMM C (M, N) = alpha * A (M, K) @ W^T + beta * C with W (N, K) row-major (the Linear layout
// x @ W^T): each W row is streamed once for all M rows of A, as register tiles of W rows x A rows.
// Used by cpu/gemm for decode-sized M (OpenBLAS packs the whole B panel even for M = 1) and, with int8
// W rows and per-row scales, by cpu/gemm_w8. Not for large M: there BLAS's blocking wins.
#pragma once
#pragma GCC diagnostic ignored "-Wpsabi"  // vector values passed between inlined helpers
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's own avx512fintrin.h (_mm512_undefined)
#include <algorithm>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "../core/simd.h"
#include "../core/threadpool.h"

namespace stellar {

// Up to this many rows of A the streaming kernel beats OpenBLAS sgemm on the small config's Linear
// shapes (K 256..688, N 256..8192; at M = 16 sgemm is ~20% faster, at M = 8 they are about even).
constexpr int64_t kSmallGemmMaxM = 8;

// op(A) is A (M, K) or, with ta, the transpose of A (K, M) (copied to rows first: M * K is small).
void gemm_small_f32(bool ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* W, int64_t ldw, float beta, float* C, int64_t ldc);

namespace sg {

// Helpers are plain inline; each entry point is `flatten`ed, which inlines them all into it under the
// entry's target (always_inline would refuse the AVX-512/AVX2 intrinsics inside default-target helpers).
#define SG_INLINE inline

template <int L> struct V {
  typedef float f __attribute__((vector_size(4 * L)));
  typedef float fu __attribute__((vector_size(4 * L), aligned(4)));
  typedef int8_t b __attribute__((vector_size(L)));
};

struct Problem {
  int64_t M, N, K;
  const float* A; int64_t lda;   // (M, K), rows unit-stride
  float alpha, beta;
  float* C; int64_t ldc;         // (M, N) row-major
  const float* scale;            // per W row (N), or null
};

// W rows as float32 or as int8 (converted lane-wise to float32 in registers).
struct F32Rows {
  const float* p; int64_t ld;
  template <int L> SG_INLINE typename V<L>::f load(int64_t r, int64_t k) const {
    return *reinterpret_cast<const typename V<L>::fu*>(p + r * ld + k);
  }
  SG_INLINE float at(int64_t r, int64_t k) const { return p[r * ld + k]; }
};
// int8 lanes -> float lanes. GCC turns a generic __builtin_convertvector of int8 into per-byte scalar
// code, so the AVX-512 / AVX2 widths use the sign-extend + convert instructions directly.
template <int L> SG_INLINE typename V<L>::f widen_i8(const int8_t* p) {
  typename V<L>::b b;
  std::memcpy(&b, p, L);
  typedef int32_t vi __attribute__((vector_size(4 * L)));
  return __builtin_convertvector(__builtin_convertvector(b, vi), typename V<L>::f);
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
template <> __attribute__((target("avx512f"))) inline V<16>::f widen_i8<16>(const int8_t* p) {
  return reinterpret_cast<V<16>::f>(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))));
}
template <> __attribute__((target("avx2"))) inline V<8>::f widen_i8<8>(const int8_t* p) {
  return reinterpret_cast<V<8>::f>(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))));
}
#endif

struct I8Rows {
  const int8_t* p; int64_t ld;
  template <int L> SG_INLINE typename V<L>::f load(int64_t r, int64_t k) const { return widen_i8<L>(p + r * ld + k); }
  SG_INLINE float at(int64_t r, int64_t k) const { return static_cast<float>(p[r * ld + k]); }
};

// Lane sum by halving (upper half added onto the lower), so the compiler keeps it in registers.
template <int L> SG_INLINE float hsum(typename V<L>::f v) {
  typename V<L / 2>::f lo, hi;
  std::memcpy(&lo, &v, sizeof lo);
  std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
  return hsum<L / 2>(lo + hi);
}
template <> SG_INLINE float hsum<2>(V<2>::f v) { return v[0] + v[1]; }

SG_INLINE void store(const Problem& g, int64_t m, int64_t n, float s) {
  if (g.scale) s *= g.scale[n];
  float* c = g.C + m * g.ldc + n;
  *c = g.beta == 0.f ? g.alpha * s : g.alpha * s + g.beta * *c;  // beta 0 never reads C (may be NaN)
}

// MR rows of A x NR rows of W: MR * NR vector accumulators (16 at most: fits AVX-512's 32 registers
// with the loads; AVX2's 16 with L = 8 and 8 accumulators).
template <int L, int MR, int NR, class W>
SG_INLINE void tile(const Problem& g, const W& w, int64_t m0, int64_t n0) {
  typedef typename V<L>::f vf;
  typedef typename V<L>::fu vfu;
  vf acc[MR][NR];
  for (int i = 0; i < MR; ++i) for (int j = 0; j < NR; ++j) acc[i][j] = vf{};
  const float* a = g.A + m0 * g.lda;
  int64_t k = 0;
  for (; k + L <= g.K; k += L) {
    vf wv[NR];
    for (int j = 0; j < NR; ++j) wv[j] = w.template load<L>(n0 + j, k);
    for (int i = 0; i < MR; ++i) {
      vf xv = *reinterpret_cast<const vfu*>(a + i * g.lda + k);
      for (int j = 0; j < NR; ++j) acc[i][j] += xv * wv[j];
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      float s = hsum<L>(acc[i][j]);
      for (int64_t kk = k; kk < g.K; ++kk) s += a[i * g.lda + kk] * w.at(n0 + j, kk);
      store(g, m0 + i, n0 + j, s);
    }
}

template <int L, int MR, class W>
SG_INLINE void rows(const Problem& g, const W& w, int64_t m0, int64_t n0, int64_t nb) {
  if (nb == 8) {
    if (MR == 1) { tile<L, 1, 8>(g, w, m0, n0); return; }
    tile<L, MR, 4>(g, w, m0, n0);
    tile<L, MR, 4>(g, w, m0, n0 + 4);
    return;
  }
  for (int64_t j = 0; j < nb; ++j) tile<L, MR, 1>(g, w, m0, n0 + j);
}

// W rows [n0, n1): blocks of 8 W rows (one L1-resident tile), every 4-row slice of A against each.
template <int L, class W>
SG_INLINE void range(const Problem& g, const W& w, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n += 8) {
    const int64_t nb = std::min<int64_t>(8, n1 - n);
    for (int64_t m = 0; m < g.M; m += 4) {
      switch (std::min<int64_t>(4, g.M - m)) {
        case 1: rows<L, 1>(g, w, m, n, nb); break;
        case 2: rows<L, 2>(g, w, m, n, nb); break;
        case 3: rows<L, 3>(g, w, m, n, nb); break;
        default: rows<L, 4>(g, w, m, n, nb); break;
      }
    }
  }
}

// 2: AVX-512 (16 lanes), 1: AVX2 + FMA (8 lanes), 0: baseline (4 lanes).
int isa_level();

// Splits the W rows over the pool only when there is enough work to pay for waking the workers.
constexpr double kSplitMacs = 1 << 20;
template <class Fn>
void split_rows(const Problem& g, Fn&& fn) {
  const double macs = double(g.M) * double(g.N) * double(g.K);
  if (num_threads() <= 1 || macs < kSplitMacs) { fn(int64_t(0), g.N); return; }
  const int64_t blocks = (g.N + 7) / 8;
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(kSplitMacs / 2 / (8.0 * g.M * g.K)));
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) { fn(b0 * 8, std::min(g.N, b1 * 8)); });
}

}  // namespace sg

// Defines NAME(problem, rows, n0, n1) compiled for AVX-512, AVX2+FMA and baseline, picked once at
// run time (the lane count changes with the ISA, which target_clones alone cannot express).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define STELLAR_SMALL_GEMM_ENTRY(NAME, WROWS)                                                                    \
  __attribute__((target("arch=x86-64-v4"), flatten)) static void NAME##_v4(const sg::Problem& g, const WROWS& w,       \
                                                                   int64_t n0, int64_t n1) {                    \
    sg::range<16>(g, w, n0, n1);                                                                                  \
  }                                                                                                               \
  __attribute__((target("arch=x86-64-v3"), flatten)) static void NAME##_v3(const sg::Problem& g, const WROWS& w,       \
                                                                   int64_t n0, int64_t n1) {                    \
    sg::range<8>(g, w, n0, n1);                                                                                   \
  }                                                                                                               \
  __attribute__((flatten)) static void NAME##_v1(const sg::Problem& g, const WROWS& w, int64_t n0, int64_t n1) { sg::range<4>(g, w, n0, n1); } \
  static void NAME(const sg::Problem& g, const WROWS& w, int64_t n0, int64_t n1) {                              \
    static const int level = sg::isa_level();                                                                     \
    if (level == 2) NAME##_v4(g, w, n0, n1);                                                                      \
    else if (level == 1) NAME##_v3(g, w, n0, n1);                                                                 \
    else NAME##_v1(g, w, n0, n1);                                                                                 \
  }
#else
#define STELLAR_SMALL_GEMM_ENTRY(NAME, WROWS)                                                                    \
  __attribute__((flatten)) static void NAME(const sg::Problem& g, const WROWS& w, int64_t n0, int64_t n1) { sg::range<4>(g, w, n0, n1); }
#endif

}  // namespace stellar
