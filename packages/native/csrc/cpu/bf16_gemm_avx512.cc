// The AVX512_BF16 path of bf16_gemm (see bf16_gemm.h): a GotoBLAS-style packed GEMM whose 14x32
// micro-kernel keeps 28 zmm fp32 accumulators and feeds vdpbf16ps (one bf16 pair per fp32 lane).
// Compiled for any x86-64 CPU; the AVX-512 code sits in target-attributed functions that
// bf16_gemm only calls after checking the CPU at run time.
#include "bf16_gemm.h"
#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include "../core/threadpool.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#if !defined(__clang__)
// GCC 12 flags its own _mm512_undefined_epi32() inside the shuffle intrinsics as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define BF16_TARGET __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl")))

namespace stellar {
namespace {

// Register block: MR rows x NR columns of C; NR = two zmm of fp32. Packed panels hold one uint32 per
// (row or column, k pair): the two bf16 of k = 2p (low half) and 2p + 1 (high half), as vdpbf16ps wants.
constexpr int MR = 14, NR = 32;
// Cache blocks: a B micro-panel (KC x NR bf16, 16 KiB) stays in L1 while the A block (MC x KC, ~300 KiB)
// sits in L2; the B block (KC x NC) is streamed from L2/L3. KC also fixes the fp32 summation order
// (partial sums of KC products are added to C in K order), so it must not depend on the thread count.
constexpr int64_t KC = 256, MC = MR * 42, NC = NR * 96;

// ---- packing -------------------------------------------------------------------------------------

// Rows r of a stored matrix, contiguous along k (A when !ta, B when tb): out[p * stride + lane_off + r]
// = pair p of row r, for r < nrows (<= 16), p < ceil(kc / 2). An odd kc reads a zero for the missing k.
// 16 x 16 uint32 blocks are transposed in registers.
BF16_TARGET void pack_rows(const uint16_t* src, int64_t ld, int64_t kc, int nrows, uint32_t* out, int64_t stride,
                           int lane_off, __mmask16 store) {
  const int64_t kp = (kc + 1) / 2;
  for (int64_t p0 = 0; p0 < kp; p0 += 16) {
    int64_t left = kc - 2 * p0;  // bf16 values of this 32-wide window that exist
    __mmask32 m = left >= 32 ? ~__mmask32(0) : (__mmask32(1) << left) - 1;
    __m512i r[16];
    for (int i = 0; i < 16; ++i) r[i] = i < nrows ? _mm512_maskz_loadu_epi16(m, src + i * ld + 2 * p0) : _mm512_setzero_si512();
    __m512i t[16], u[16];
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    // u[4i + c], 128-bit lane l: rows 4i..4i+3 at column 4l + c
    for (int i = 0; i < 4; ++i) {
      u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
      u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
      u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
      u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    int np = static_cast<int>(std::min<int64_t>(16, kp - p0));
    uint32_t* o = out + p0 * stride + lane_off;
    for (int c = 0; c < 4; ++c) {
      __m512i a = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44), b = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
      __m512i a2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44), b2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
      __m512i col[4] = {_mm512_shuffle_i32x4(a, a2, 0x88), _mm512_shuffle_i32x4(a, a2, 0xDD),
                        _mm512_shuffle_i32x4(b, b2, 0x88), _mm512_shuffle_i32x4(b, b2, 0xDD)};
      for (int l = 0; l < 4; ++l)
        if (4 * l + c < np) _mm512_mask_storeu_epi32(o + (4 * l + c) * stride, store, col[l]);
    }
  }
}

// One k pair of columns c < w (<= 32): out[c] = (s0[c], s1[c]) with s1 == nullptr meaning zeros (odd kc),
// zero for w <= c < 32. out[0:16] is written under store0, out[16:32] under store1.
BF16_TARGET inline void pack_pair(const uint16_t* s0, const uint16_t* s1, int w, uint32_t* out, __mmask16 store0,
                                  __mmask16 store1) {
  const __mmask32 m = w >= 32 ? ~__mmask32(0) : (__mmask32(1) << w) - 1;
  __m512i r0 = _mm512_maskz_loadu_epi16(m, s0);
  __m512i r1 = s1 ? _mm512_maskz_loadu_epi16(m, s1) : _mm512_setzero_si512();
  // unpack works within 128-bit lanes: lo holds columns {0-3, 8-11, 16-19, 24-27}, hi the others
  __m512i lo = _mm512_unpacklo_epi16(r0, r1), hi = _mm512_unpackhi_epi16(r0, r1);
  _mm512_mask_storeu_epi32(out, store0, _mm512_permutex2var_epi64(lo, _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), hi));
  if (store1)
    _mm512_mask_storeu_epi32(out + 16, store1, _mm512_permutex2var_epi64(lo, _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4), hi));
}

// MR-row panels of op(A) rows [i0, i0 + rows), k [k0, k0 + kc): panel q at out + q * kp * MR.
BF16_TARGET void pack_a(bool ta, const uint16_t* A, int64_t lda, int64_t i0, int64_t rows, int64_t k0, int64_t kc,
                        uint32_t* out) {
  const int64_t kp = (kc + 1) / 2;
  const __mmask16 store = (1u << MR) - 1;
  if (ta) {
    // k pairs outer: each stored row is read once, front to back (panel-by-panel reads of a few bytes
    // per row thrash L1/L2 when lda is a large power of two).
    for (int64_t p = 0; p < kp; ++p) {
      const uint16_t* s0 = A + (k0 + 2 * p) * lda + i0;
      const uint16_t* s1 = 2 * p + 1 < kc ? s0 + lda : nullptr;
      for (int64_t q = 0; q * MR < rows; ++q)
        pack_pair(s0 + q * MR, s1 ? s1 + q * MR : nullptr, static_cast<int>(std::min<int64_t>(MR, rows - q * MR)),
                  out + (q * kp + p) * MR, store, 0);
    }
    return;
  }
  for (int64_t q = 0; q * MR < rows; ++q) {
    int r = static_cast<int>(std::min<int64_t>(MR, rows - q * MR));
    pack_rows(A + (i0 + q * MR) * lda + k0, lda, kc, r, out + q * kp * MR, MR, 0, store);
  }
}

// NR-column panels of op(B) columns [j0, j0 + cols), k [k0, k0 + kc): panel q at out + q * kp * NR.
BF16_TARGET void pack_b(bool tb, const uint16_t* B, int64_t ldb, int64_t j0, int64_t cols, int64_t k0, int64_t kc,
                        uint32_t* out) {
  const int64_t kp = (kc + 1) / 2;
  if (!tb) {  // k pairs outer, so each stored row is read front to back
    for (int64_t p = 0; p < kp; ++p) {
      const uint16_t* s0 = B + (k0 + 2 * p) * ldb + j0;
      const uint16_t* s1 = 2 * p + 1 < kc ? s0 + ldb : nullptr;
      for (int64_t q = 0; q * NR < cols; ++q)
        pack_pair(s0 + q * NR, s1 ? s1 + q * NR : nullptr, static_cast<int>(std::min<int64_t>(NR, cols - q * NR)),
                  out + (q * kp + p) * NR, 0xFFFF, 0xFFFF);
    }
    return;
  }
  for (int64_t q = 0; q * NR < cols; ++q) {
    int c = static_cast<int>(std::min<int64_t>(NR, cols - q * NR));
    const uint16_t* s = B + (j0 + q * NR) * ldb + k0;
    pack_rows(s, ldb, kc, std::min(c, 16), out + q * kp * NR, NR, 0, 0xFFFF);
    pack_rows(s + 16 * ldb, ldb, kc, std::max(c - 16, 0), out + q * kp * NR, NR, 16, 0xFFFF);
  }
}

// ---- micro-kernel --------------------------------------------------------------------------------

// C[0:ROWS, 0:ncols] = alpha * (a panel . b panel) + beta * C (beta == 0: C is not read).
template <int ROWS>
BF16_TARGET void ukernel(int64_t kp, const uint32_t* __restrict a, const uint32_t* __restrict b, float* c,
                         int64_t ldc, int ncols, float alpha, float beta) {
  __m512 acc0[ROWS], acc1[ROWS];
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r) {
    acc0[r] = _mm512_setzero_ps();
    acc1[r] = _mm512_setzero_ps();
    // Fetch the C tile now so its cache misses overlap the K loop instead of stalling the stores.
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16), _MM_HINT_T0);
  }
  for (int64_t p = 0; p < kp; ++p) {
    __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r]));
      acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
      acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
    }
    a += MR;
    b += NR;
  }
  const __mmask16 m0 = ncols >= 16 ? 0xFFFF : (1u << ncols) - 1;
  const __mmask16 m1 = ncols >= 32 ? 0xFFFF : ncols > 16 ? (1u << (ncols - 16)) - 1 : 0;
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r) {
    float* cr = c + r * ldc;
    if (beta == 0.f) {
      _mm512_mask_storeu_ps(cr, m0, _mm512_mul_ps(va, acc0[r]));
      _mm512_mask_storeu_ps(cr + 16, m1, _mm512_mul_ps(va, acc1[r]));
    } else {
      _mm512_mask_storeu_ps(cr, m0, _mm512_fmadd_ps(va, acc0[r], _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m0, cr))));
      _mm512_mask_storeu_ps(cr + 16, m1, _mm512_fmadd_ps(va, acc1[r], _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16))));
    }
  }
}

using Ukernel = void (*)(int64_t, const uint32_t*, const uint32_t*, float*, int64_t, int, float, float);
const Ukernel kUkernels[MR + 1] = {nullptr,     ukernel<1>,  ukernel<2>,  ukernel<3>,  ukernel<4>,
                                   ukernel<5>,  ukernel<6>,  ukernel<7>,  ukernel<8>,  ukernel<9>,
                                   ukernel<10>, ukernel<11>, ukernel<12>, ukernel<13>, ukernel<14>};

// ---- blocking and threads ------------------------------------------------------------------------

// Per-thread packing scratch, 64-byte aligned, grown on demand and kept for the next call.
struct Scratch {
  uint32_t* p = nullptr;
  size_t cap = 0;
  uint32_t* get(size_t n) {
    if (n > cap) {
      std::free(p);
      size_t bytes = (n * 4 + 63) / 64 * 64;
      p = static_cast<uint32_t*>(std::aligned_alloc(64, bytes));
      if (!p) { cap = 0; throw std::bad_alloc(); }
      cap = n;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};

struct Problem {
  bool ta, tb;
  int64_t M, N, K;
  float alpha;
  const uint16_t* A; int64_t lda;
  const uint16_t* B; int64_t ldb;
  float beta;
  float* C; int64_t ldc;
};

// One thread's tile of C: rows [i0, i1), columns [j0, j1), over all of K. Packs its own panels, so
// threads never wait on each other; every C element is computed by one thread in a fixed K order.
BF16_TARGET void run_tile(const Problem& P, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  static thread_local Scratch sa, sb;
  for (int64_t pc = 0; pc < P.K; pc += KC) {
    const int64_t kc = std::min(KC, P.K - pc), kp = (kc + 1) / 2;
    const float beta = pc == 0 ? P.beta : 1.f;
    for (int64_t jc = j0; jc < j1; jc += NC) {
      const int64_t nc = std::min(NC, j1 - jc), npan = (nc + NR - 1) / NR;
      uint32_t* bp = sb.get(static_cast<size_t>(npan * kp * NR));
      pack_b(P.tb, P.B, P.ldb, jc, nc, pc, kc, bp);
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = std::min(MC, i1 - ic), mpan = (mc + MR - 1) / MR;
        uint32_t* ap = sa.get(static_cast<size_t>(mpan * kp * MR));
        pack_a(P.ta, P.A, P.lda, ic, mc, pc, kc, ap);
        for (int64_t q = 0; q < npan; ++q) {
          const int ncols = static_cast<int>(std::min<int64_t>(NR, nc - q * NR));
          const uint32_t* bq = bp + q * kp * NR;
          for (int64_t s = 0; s < mpan; ++s) {
            const int rows = static_cast<int>(std::min<int64_t>(MR, mc - s * MR));
            float* c = P.C + (ic + s * MR) * P.ldc + jc + q * NR;
            kUkernels[rows](kp, ap + s * kp * MR, bq, c, P.ldc, ncols, P.alpha, beta);
          }
        }
      }
    }
  }
}

}  // namespace

void bf16_gemm_dpbf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                      const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const Problem P{ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  const int64_t mpan = (M + MR - 1) / MR, npan = (N + NR - 1) / NR;
  // Split C into tm x tn thread tiles (whole panels), choosing the grid that minimises the slowest
  // tile's cost: multiply-adds plus packing (about 8 multiply-adds' time per packed value).
  // Small products stay on one thread: a fork-join costs more than they do.
  int64_t T = std::min<int64_t>(num_threads(), std::max<int64_t>(1, 2 * M * N * K / (4 << 20)));
  int64_t tm = 1, tn = 1;
  double best = -1;
  for (int64_t a = 1; a <= T; ++a) {
    if (T % a) continue;
    int64_t b = T / a;
    if (a > mpan || b > npan) continue;
    double rows = double((mpan + a - 1) / a * MR), cols = double((npan + b - 1) / b * NR);
    double cost = rows * cols * double(K) + 8.0 * double(K) * (rows + cols);
    if (best < 0 || cost < best) { best = cost; tm = a; tn = b; }
  }
  const int64_t rstep = (mpan + tm - 1) / tm * MR, cstep = (npan + tn - 1) / tn * NR;
  parallel_for(tm * tn, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t i0 = (t / tn) * rstep, j0 = (t % tn) * cstep;
      if (i0 < M && j0 < N) run_tile(P, i0, std::min(M, i0 + rstep), j0, std::min(N, j0 + cstep));
    }
  });
}

}  // namespace stellar

#else  // not x86-64 GCC/Clang: bf16_gemm_dpbf16_supported() is false there, so this is never called

namespace stellar {
void bf16_gemm_dpbf16(bool, bool, int64_t, int64_t, int64_t, float, const uint16_t*, int64_t, const uint16_t*, int64_t,
                      float, float*, int64_t) {
  throw std::runtime_error("bf16_gemm_dpbf16: not compiled for this architecture");
}
}  // namespace stellar

#endif
