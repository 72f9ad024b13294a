// Lane-generic vector helpers of the CPU attention kernels: L-lane load / store / broadcast, exp2, the
// in-register transpose and row packing of tiles, lane-wise dot products and the tile mask. Every file
// with per-width entry points builds on Lanes<L> (ATTN_LANES pulls its names into a derived struct).
#pragma once
#pragma GCC diagnostic ignored "-Wpsabi"  // vector arguments of always-inlined helpers
#include <cmath>
#include <utility>
#include "tile.h"

namespace stellar {
namespace attn {

template <int L> struct Vec;
#define ATTN_VEC(L_)                                                        \
  template <> struct Vec<L_> {                                              \
    typedef float f __attribute__((vector_size(4 * L_)));                   \
    typedef float fu __attribute__((vector_size(4 * L_), aligned(4)));      \
    typedef int32_t i __attribute__((vector_size(4 * L_)));                 \
  };
ATTN_VEC(16)
ATTN_VEC(8)
ATTN_VEC(4)

template <int L>
struct Lanes {
  typedef typename Vec<L>::f vf;
  typedef typename Vec<L>::fu vfu;
  typedef typename Vec<L>::i vi;
  static constexpr int NVQ = kBQ / L;  // query vectors per tile
  typedef std::make_integer_sequence<int, L> Seq;

  static ATTN_INLINE vf ld(const float* p) { return *reinterpret_cast<const vfu*>(p); }
  static ATTN_INLINE void st(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
  // x * 1 folds to a plain broadcast (x + 0 would not: -0 + 0 is +0).
  static ATTN_INLINE vf splat(float x) { return x * (vf{} + 1.f); }
  static ATTN_INLINE vf vmax(vf a, vf b) { return a > b ? a : b; }
  static ATTN_INLINE vf iota() {
    vf r;
    for (int i = 0; i < L; ++i) r[i] = static_cast<float>(i);
    return r;
  }

  // 2^x lane-wise (relative error ~1e-7). EXACT maps x < -126 (and masked -inf scores) to exactly 0;
  // without it such lanes give a tiny positive value, harmless where no lane can be masked.
  template <bool EXACT>
  static ATTN_INLINE vf exp2v(vf x) {
    const vf lo = splat(-126.f), magic = splat(12582912.f);  // + 1.5 * 2^23 rounds to an integer
    vi under = x < lo;
    vf xc = vmax(x, lo);
    vf t = xc + magic;
    vf n = t - magic;
    vf p = attn_exp2_poly(xc - n);
    vf r = (vf)((vi)p + ((vi)t << 23));  // the low bits of t hold n: add n to p's exponent
    if (EXACT) r = under ? vf{} : r;
    return r;
  }

  // ---- layout helpers ------------------------------------------------------------------------
  // One step of an in-register L x L transpose: swap the off-diagonal blocks of size S.
  template <int S, int... Is>
  static ATTN_INLINE void tr_step(vf* r, std::integer_sequence<int, Is...>) {
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i) {
      if (i & S) continue;
      const vf x = r[i], y = r[i + S];
      r[i] = __builtin_shufflevector(x, y, ((Is & S) ? L + Is - S : Is)...);
      r[i + S] = __builtin_shufflevector(x, y, ((Is & S) ? L + Is : Is + S)...);
    }
    if constexpr (S > 1) tr_step<S / 2>(r, Seq{});
  }

  // dst[c * ds + r] = src[r * ss + c] * mul for an L x L block.
  static ATTN_INLINE void transpose_block(const float* src, int64_t ss, float* dst, int64_t ds, float mul) {
    vf r[L];
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i) r[i] = ld(src + i * ss);
    tr_step<L / 2>(r, Seq{});
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i) st(dst + i * ds, r[i] * mul);
  }

  // (rows x cols) -> (cols x rows) times mul, both multiples of L.
  static ATTN_INLINE void transpose(const float* src, int64_t ss, float* dst, int64_t ds, int64_t rows, int64_t cols, float mul) {
    for (int64_t r0 = 0; r0 < rows; r0 += L)
      for (int64_t c0 = 0; c0 < cols; c0 += L) transpose_block(src + r0 * ss + c0, ss, dst + c0 * ds + r0, ds, mul);
  }

  // Rows [0, n) of a strided (rows, D) view into dst (64, Dp), zero-padded to Dp columns and 64 rows.
  static ATTN_INLINE void pack_rows(const float* src, int64_t rs, int64_t cs, int64_t n, int64_t D, int64_t Dp, float* dst) {
    for (int64_t i = 0; i < kBQ; ++i) {
      float* row = dst + i * Dp;
      int64_t d = 0;
      if (i < n) {
        const float* s = src + i * rs;
        if (cs == 1) for (; d < D; ++d) row[d] = s[d];
        else for (; d < D; ++d) row[d] = s[d * cs];
      }
      for (; d < Dp; ++d) row[d] = 0.f;
    }
  }

  // out[i] = sum_d x[d][i] * y[d][i] over d < D, for the 64 query lanes of two (Dp, 64) tiles.
  static ATTN_INLINE void lane_dots(const float* x, const float* y, int64_t D, float* out) {
    vf acc[NVQ] = {};
    for (int64_t d = 0; d < D; ++d)
#pragma GCC unroll 16
      for (int v = 0; v < NVQ; ++v) acc[v] += ld(x + d * kBQ + v * L) * ld(y + d * kBQ + v * L);
    for (int v = 0; v < NVQ; ++v) st(out + v * L, acc[v]);
  }

  // ---- tile element work -----------------------------------------------------------------------
  // Writes -inf over masked scores (padded keys, other segments, causal partial vectors); true when
  // any were masked.
  static ATTN_INLINE bool mask_tile(float* Sb, const TileInfo& t) {
    const vf ninf = splat(-INFINITY), lanes = iota();
    bool any = false;
    for (int64_t j = 0; j < t.nk; ++j) {
      float* row = Sb + j * kBQ;
      const int v0 = t.vs[j / kG];
      if (t.km && !t.km[j * t.kms]) {
        for (int v = v0; v < t.nvq; ++v) st(row + v * L, ninf);
        any = true;
        continue;
      }
      if (t.qseg) {  // key row j is seen only by the query lanes with its segment id
        const vi kid = vi{} + t.kseg[j * t.kss];
        for (int v = v0; v < t.nvq; ++v) {
          const vi same = *reinterpret_cast<const vi*>(t.qseg + v * L) == kid;
          st(row + v * L, same ? ld(row + v * L) : ninf);
        }
        any = true;
      }
      if (!t.causal) continue;
      const int64_t thr = t.thr0 + j;
      for (int v = v0; v < t.nvq && v * L < thr; ++v) {
        st(row + v * L, lanes < splat(static_cast<float>(thr - v * L)) ? ninf : ld(row + v * L));
        any = true;
      }
    }
    return any;
  }
};

// In a struct derived from Lanes<L_>: its types and helpers by their plain names.
#define ATTN_LANES(L_)                                                                     \
  using V = Lanes<L_>;                                                                     \
  typedef typename V::vf vf;                                                               \
  typedef typename V::Seq Seq;                                                             \
  using V::ld;                                                                             \
  using V::st;                                                                             \
  using V::splat;                                                                          \
  using V::vmax;                                                                           \
  using V::transpose;                                                                      \
  using V::pack_rows;                                                                      \
  using V::lane_dots;                                                                      \
  using V::mask_tile;                                                                      \
  template <bool EXACT>                                                                    \
  static ATTN_INLINE vf exp2v(vf x) { return V::template exp2v<EXACT>(x); }

}  // namespace attn
}  // namespace stellar
