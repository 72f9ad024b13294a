// Fused scaled-dot-product attention on CPU, flash style: causal and key-padding masks, grouped KV
// heads (GQA / MQA), a forward with online softmax and a backward that recomputes probabilities from
// the forward's logsumexp. Nothing of size T x S is ever stored: work goes through 64-query x 64-key
// tiles in per-thread buffers. Queries run along the SIMD lanes, so the per-query softmax statistics
// need no horizontal reductions and K / V are read in place (one broadcast per element). With very
// few queries (KV-cache decoding) each query row runs alone with keys along the lanes instead.
//
// The code is written once over L-lane vectors and compiled three times: L = 16 for AVX-512, 8 for
// AVX2 + FMA and 4 for the portable baseline (a 16-lane vector lowered to SSE or AVX2 registers
// spills badly, so target_clones of a single width is not enough here); the widest the CPU supports
// is picked at run time.
#pragma GCC diagnostic ignored "-Wpsabi"  // vector arguments of always-inlined helpers
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>
#include "../core/registry.h"
#include "../core/threadpool.h"
#include "../shared/attention_math.h"
#include "../shared/kernel_args/attention.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ATTN_X86 1
#define ATTN_V4 __attribute__((target("arch=x86-64-v4")))
#define ATTN_V3 __attribute__((target("arch=x86-64-v3")))
#else
#define ATTN_X86 0
#define ATTN_V4
#define ATTN_V3
#endif
#define ATTN_INLINE inline __attribute__((always_inline))

namespace stellar {
namespace {

constexpr int kBQ = 64;               // queries per tile
constexpr int kBK = 64;               // keys per tile
constexpr int kG = 4;                 // key rows per block; causal skipping works per block
constexpr int kMaxNVQ = kBQ / 4;      // query vectors per tile at the narrowest width
constexpr int64_t kRowsMaxT = 8;      // up to this many queries, the one-row-per-task path

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

using View4 = AttnView4;
using Grads = AttnGrads;

// One attention call (shared/kernel_args/attention.h) plus the number of query tiles.
struct Attn : AttnProblem {
  int64_t nqt = 0;
};

// Which parts of one (query tile, key tile) pair are computed. Scores live transposed in the tile
// buffer: row j = key k0 + j, lanes = the tile's queries.
struct TileInfo {
  int64_t nk = 0;               // key rows in the tile
  int nvq = 0;                  // query vectors in the tile
  int vs[kBK / kG];             // per block of kG key rows: first query vector computed (earlier ones see none)
  int64_t jcomp[kMaxNVQ];       // per query vector v: rows [0, jcomp[v]) are computed for it
  bool causal = false;
  int64_t thr0 = 0;             // causal: key row j hides query lanes i < thr0 + j
  const uint8_t* km = nullptr;  // key padding mask of row 0 (null: none), stride kms
  int64_t kms = 0;
};

template <int L>
void plan_tile(TileInfo& t, const Attn& a, int64_t b, int64_t k0, int64_t nk, int64_t q0, int nvq) {
  t.nk = nk;
  t.nvq = nvq;
  t.causal = a.causal;
  t.thr0 = k0 + 1 - attn_key_end(q0, a.T, a.S);  // key k0 + j is hidden from query q0 + i when i < thr0 + j
  t.km = a.mask ? a.mask + b * a.ms0 + k0 * a.ms1 : nullptr;
  t.kms = a.ms1;
  const int ng = static_cast<int>((nk + kG - 1) / kG);
  for (int g = 0; g < ng; ++g) {
    int64_t thr = t.thr0 + g * kG;
    t.vs[g] = (!a.causal || thr <= 0) ? 0 : static_cast<int>(std::min<int64_t>(thr / L, nvq - 1));
  }
  for (int v = 0; v < nvq; ++v) {
    int64_t blocks = 0;
    for (int g = 0; g < ng; ++g) blocks += t.vs[g] <= v;
    t.jcomp[v] = std::min<int64_t>(nk, blocks * kG);
  }
}

// fn(j0, j1, vs) over maximal runs of key rows whose blocks start at the same query vector.
template <class F>
void for_runs(const TileInfo& t, F fn) {
  const int ng = static_cast<int>((t.nk + kG - 1) / kG);
  for (int g = 0; g < ng;) {
    int e = g + 1;
    while (e < ng && t.vs[e] == t.vs[g]) ++e;
    fn(static_cast<int64_t>(g) * kG, std::min<int64_t>(t.nk, static_cast<int64_t>(e) * kG), t.vs[g]);
    g = e;
  }
}

// fn(j0, j1, s): key rows [j0, j1) contribute to query vectors [s, nvq) (the causal staircase).
template <class F>
void for_stairs(const TileInfo& t, F fn) {
  int64_t prev = 0;
  for (int s = 0; s < t.nvq; ++s) {
    if (t.jcomp[s] > prev) { fn(prev, t.jcomp[s], s); prev = t.jcomp[s]; }
  }
}

float* scratch(size_t n) {
  static thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// Per-width entry points: explicit specializations below give each width its target ISA.
template <int L> void gemm(int nv, bool acc, int64_t M, const float* A, int64_t ars, int64_t acs, const float* B,
                           int64_t ldb, int64_t K, float* C, int64_t ldc);
template <int L> void softmax_tile(float* Sb, const TileInfo& t, float* m, float* l, float* Ot, int64_t D);
template <int L> void probs_tile(float* Sb, float* Pb, const TileInfo& t, const float* lse2, const float* delta, bool rows_masked);
template <int L> void fwd_task(const Attn& a, float* o, float* lse, int64_t task);
template <int L> void fwd_row_task(const Attn& a, float* o, float* lse, int64_t row);
template <int L> void bwd_task(const Attn& a, const Grads& g, int64_t b, int64_t kvh, int64_t h0, int64_t h1, float* dk, float* dv);

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

  // ---- the tile product ----------------------------------------------------------------------
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
  // Writes -inf over masked scores (padded keys, causal partial vectors); true when any were masked.
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
      if (!t.causal) continue;
      const int64_t thr = t.thr0 + j;
      for (int v = v0; v < t.nvq && v * L < thr; ++v) {
        st(row + v * L, lanes < splat(static_cast<float>(thr - v * L)) ? ninf : ld(row + v * L));
        any = true;
      }
    }
    return any;
  }

  // Online softmax over one key tile: Sb (base-2 scores) becomes probabilities relative to the updated
  // running max m; the running sum l and the output accumulator Ot (D x 64 lanes) are rescaled.
  template <bool EXACT>
  static ATTN_INLINE void softmax_cols(float* Sb, const TileInfo& t, float* m, float* l, float* Ot, int64_t D) {
    const vf ninf = splat(-INFINITY);
    for (int v = 0; v < t.nvq; ++v) {
      const int64_t n = t.jcomp[v];
      if (n == 0) continue;
      float* col = Sb + v * L;
      vf mx0 = ninf, mx1 = ninf;
      int64_t j = 0;
      for (; j + 2 <= n; j += 2) { mx0 = vmax(mx0, ld(col + j * kBQ)); mx1 = vmax(mx1, ld(col + (j + 1) * kBQ)); }
      if (j < n) mx0 = vmax(mx0, ld(col + j * kBQ));
      const vf mo = ld(m + v * L), mn = vmax(mo, vmax(mx0, mx1));
      const vf ms = mn == ninf ? vf{} : mn;  // all masked so far: any finite reference keeps exp2 at 0
      const vf alpha = exp2v<true>(mo - ms);
      vf s0 = vf{}, s1 = vf{};
      for (j = 0; j + 2 <= n; j += 2) {
        const vf p0 = exp2v<EXACT>(ld(col + j * kBQ) - ms), p1 = exp2v<EXACT>(ld(col + (j + 1) * kBQ) - ms);
        st(col + j * kBQ, p0); st(col + (j + 1) * kBQ, p1); s0 += p0; s1 += p1;
      }
      if (j < n) { const vf p0 = exp2v<EXACT>(ld(col + j * kBQ) - ms); st(col + j * kBQ, p0); s0 += p0; }
      st(l + v * L, ld(l + v * L) * alpha + (s0 + s1));
      st(m + v * L, mn);
      for (int64_t d = 0; d < D; ++d) st(Ot + d * kBQ + v * L, ld(Ot + d * kBQ + v * L) * alpha);
    }
  }

  static ATTN_INLINE void softmax_impl(float* Sb, const TileInfo& t, float* m, float* l, float* Ot, int64_t D) {
    if (mask_tile(Sb, t)) softmax_cols<true>(Sb, t, m, l, Ot, D);
    else softmax_cols<false>(Sb, t, m, l, Ot, D);
  }

  // Backward element work of one tile: Sb (base-2 scores) -> P = exp2(S - lse2), Pb (dP) -> dS = P (dP - delta).
  template <bool EXACT>
  static ATTN_INLINE void probs_rows(float* Sb, float* Pb, const TileInfo& t, const float* lse2, const float* delta) {
    for (int64_t j = 0; j < t.nk; ++j) {
      float* srow = Sb + j * kBQ;
      float* prow = Pb + j * kBQ;
      for (int v = t.vs[j / kG]; v < t.nvq; ++v) {
        const vf p = exp2v<EXACT>(ld(srow + v * L) - ld(lse2 + v * L));
        st(srow + v * L, p);
        st(prow + v * L, p * (ld(prow + v * L) - ld(delta + v * L)));
      }
    }
  }

  static ATTN_INLINE void probs_impl(float* Sb, float* Pb, const TileInfo& t, const float* lse2, const float* delta, bool rows_masked) {
    if (mask_tile(Sb, t) || rows_masked) probs_rows<true>(Sb, Pb, t, lse2, delta);
    else probs_rows<false>(Sb, Pb, t, lse2, delta);
  }

  // ---- forward: one query tile of one head, 64 queries against all keys they can see -----------
  static ATTN_INLINE void fwd_task_impl(const Attn& a, float* o, float* lse, int64_t task) {
    // later query tiles (longer under the causal mask) are handed out first
    const int64_t qt = a.nqt - 1 - task % a.nqt, bh = task / a.nqt, h = bh % a.Hq, b = bh / a.Hq, kvh = h / a.group;
    const int64_t D = a.D, Dp = (D + L - 1) / L * L, q0 = qt * kBQ, nq = std::min<int64_t>(kBQ, a.T - q0);
    const int nvq = static_cast<int>((nq + L - 1) / L);
    // Qt, Ot: (Dp, 64) query lanes; Qr: (64, Dp) rows; Sb: (64 keys, 64); m, l: (64)
    float* Qt = scratch(3 * Dp * kBQ + kBK * kBQ + 2 * kBQ);
    float *Ot = Qt + Dp * kBQ, *Qr = Ot + Dp * kBQ, *Sb = Qr + Dp * kBQ, *m = Sb + kBK * kBQ, *l = m + kBQ;
    pack_rows(a.q.p + b * a.q.s[0] + h * a.q.s[1] + q0 * a.q.s[2], a.q.s[2], a.q.s[3], nq, D, Dp, Qr);
    transpose(Qr, Dp, Qt, kBQ, kBQ, Dp, a.scale * kAttnLog2e);
    std::fill(Ot, Ot + Dp * kBQ, 0.f);
    std::fill(m, m + kBQ, -INFINITY);
    std::fill(l, l + kBQ, 0.f);
    const int64_t kend = a.causal ? std::min(a.S, std::max<int64_t>(0, attn_key_end(q0 + nq - 1, a.T, a.S))) : a.S;
    const float* kp = a.k.p + b * a.k.s[0] + kvh * a.k.s[1];
    const float* vp = a.v.p + b * a.v.s[0] + kvh * a.v.s[1];
    TileInfo t;
    for (int64_t k0 = 0; k0 < kend; k0 += kBK) {
      plan_tile<L>(t, a, b, k0, std::min<int64_t>(kBK, kend - k0), q0, nvq);
      // S^T (keys x query lanes) = K Q^T
      for_runs(t, [&](int64_t j0, int64_t j1, int vs) {
        gemm<L>(nvq - vs, false, j1 - j0, kp + (k0 + j0) * a.k.s[2], a.k.s[2], a.k.s[3], Qt + vs * L, kBQ, D,
                Sb + j0 * kBQ + vs * L, kBQ);
      });
      softmax_tile<L>(Sb, t, m, l, Ot, D);
      // O^T (D x query lanes) += V^T P^T
      for_stairs(t, [&](int64_t j0, int64_t j1, int s) {
        gemm<L>(nvq - s, true, D, vp + (k0 + j0) * a.v.s[2], a.v.s[3], a.v.s[2], Sb + j0 * kBQ + s * L, kBQ, j1 - j0,
                Ot + s * L, kBQ);
      });
    }
    transpose(Ot, kBQ, Qr, Dp, Dp, kBQ, 1.f);  // back to rows
    float* op = o + ((b * a.Hq + h) * a.T + q0) * D;
    float* lp = lse + (b * a.Hq + h) * a.T + q0;
    for (int64_t i = 0; i < nq; ++i) {
      const float sc = attn_out_scale(l[i]);
      for (int64_t d = 0; d < D; ++d) op[i * D + d] = Qr[i * Dp + d] * sc;
      lp[i] = attn_row_lse(m[i], l[i]);
    }
  }

  // ---- forward with few queries (KV-cache decoding): one query row per task -------------------
  // The tile path would leave most query lanes empty, so q and the output accumulator live in
  // registers (lanes along D), each key's score is a D-lane dot product, and L of those are summed
  // at once by a shuffle tree into one vector of scores.

  // Lane q of the level's output sums two halves of segment-sized runs of x (q < L/2) or y.
  static constexpr int hs_idx(int q, int seg, bool hi) {
    const int half = L / 2, src = q < half ? 0 : L, lq = q % half, h = seg / 2;
    return src + (lq / h) * seg + lq % h + (hi ? h : 0);
  }
  template <int SEG, int... Is>
  static ATTN_INLINE void hs_level(vf* r, std::integer_sequence<int, Is...>) {
#pragma GCC unroll 16
    for (int k = 0; k < SEG / 2; ++k)
      r[k] = __builtin_shufflevector(r[2 * k], r[2 * k + 1], hs_idx(Is, SEG, false)...) +
             __builtin_shufflevector(r[2 * k], r[2 * k + 1], hs_idx(Is, SEG, true)...);
    if constexpr (SEG > 2) hs_level<SEG / 2>(r, Seq{});
  }
  // Lane j of the result = the sum of all lanes of x[j], for L vectors (x is overwritten).
  static ATTN_INLINE vf hsum_all(vf* x) {
    hs_level<L>(x, Seq{});
    return x[0];
  }
  static ATTN_INLINE float hsum(vf x) {
    float s = 0.f;
    for (int i = 0; i < L; ++i) s += x[i];
    return s;
  }

  // One query row (b, h, i) against its visible keys; D = NVD * L and K, V rows unit-stride.
  template <int NVD>
  static ATTN_INLINE void fwd_row(const Attn& a, float* o, float* lse, int64_t row) {
    const int64_t i = row % a.T, bh = row / a.T, h = bh % a.Hq, b = bh / a.Hq, kvh = h / a.group;
    const float c2 = a.scale * kAttnLog2e;
    const float* qp = a.q.p + b * a.q.s[0] + h * a.q.s[1] + i * a.q.s[2];
    vf qv[NVD], acc[NVD];
    for (int c = 0; c < NVD; ++c) {
      for (int q = 0; q < L; ++q) qv[c][q] = qp[(c * L + q) * a.q.s[3]] * c2;
      acc[c] = vf{};
    }
    const float* kp = a.k.p + b * a.k.s[0] + kvh * a.k.s[1];
    const float* vp = a.v.p + b * a.v.s[0] + kvh * a.v.s[1];
    const int64_t kend = a.causal ? std::min(a.S, std::max<int64_t>(0, attn_key_end(i, a.T, a.S))) : a.S;
    const uint8_t* km = a.mask ? a.mask + b * a.ms0 : nullptr;
    float m = -INFINITY, l = 0.f;
    alignas(64) float sc[kBK];
    for (int64_t k0 = 0; k0 < kend; k0 += kBK) {
      const int64_t nk = std::min<int64_t>(kBK, kend - k0);
      const int ng = static_cast<int>((nk + L - 1) / L);
      for (int g = 0; g < ng; ++g) {
        vf part[L];
#pragma GCC unroll 16
        for (int jj = 0; jj < L; ++jj) {
          const int64_t j = g * L + jj;
          if (j < nk) {
            const float* kr = kp + (k0 + j) * a.k.s[2];
            vf d = qv[0] * ld(kr);
#pragma GCC unroll 8
            for (int c = 1; c < NVD; ++c) d += qv[c] * ld(kr + c * L);
            part[jj] = d;
          } else {
            part[jj] = vf{};
          }
        }
        st(sc + g * L, hsum_all(part));
      }
      for (int64_t j = nk; j < ng * L; ++j) sc[j] = -INFINITY;
      if (km)
        for (int64_t j = 0; j < nk; ++j)
          if (!km[(k0 + j) * a.ms1]) sc[j] = -INFINITY;
      vf mxv = ld(sc);
      for (int g = 1; g < ng; ++g) mxv = vmax(mxv, ld(sc + g * L));
      float mn = m;
      for (int q = 0; q < L; ++q) mn = std::max(mn, mxv[q]);
      if (mn == -INFINITY) continue;  // every key so far masked
      const float alpha = std::exp2(m - mn);
      vf ps = vf{};
      for (int g = 0; g < ng; ++g) {
        const vf p = exp2v<true>(ld(sc + g * L) - mn);
        st(sc + g * L, p);
        ps += p;
      }
      l = l * alpha + hsum(ps);
      for (int c = 0; c < NVD; ++c) acc[c] *= alpha;
      for (int64_t j = 0; j < nk; ++j) {
        const float pj = sc[j];
        const float* vr = vp + (k0 + j) * a.v.s[2];
#pragma GCC unroll 8
        for (int c = 0; c < NVD; ++c) acc[c] += pj * ld(vr + c * L);
      }
      m = mn;
    }
    const float os = attn_out_scale(l);
    float* orow = o + row * a.D;  // o is contiguous (B, Hq, T, D) and row = (b * Hq + h) * T + i
    for (int c = 0; c < NVD; ++c) st(orow + c * L, acc[c] * os);
    lse[row] = attn_row_lse(m, l);
  }

  static bool rows_ok(const Attn& a) {
    return a.T <= kRowsMaxT && a.D % L == 0 && a.D <= 8 * L && a.k.s[3] == 1 && a.v.s[3] == 1;
  }

  static ATTN_INLINE void fwd_row_impl(const Attn& a, float* o, float* lse, int64_t row) {
    switch (a.D / L) {
      case 1: fwd_row<1>(a, o, lse, row); break;
      case 2: fwd_row<2>(a, o, lse, row); break;
      case 3: fwd_row<3>(a, o, lse, row); break;
      case 4: fwd_row<4>(a, o, lse, row); break;
      case 5: fwd_row<5>(a, o, lse, row); break;
      case 6: fwd_row<6>(a, o, lse, row); break;
      case 7: fwd_row<7>(a, o, lse, row); break;
      case 8: fwd_row<8>(a, o, lse, row); break;
      default: throw Error("attention: row path needs D = L .. 8L");
    }
  }

  // ---- backward ---------------------------------------------------------------------------------
  // Query heads [h0, h1) of batch b, all sharing KV head kvh: their dQ, and their summed contribution to
  // dK and dV of that KV head, written (S, D) to dkp and dvp. dK and dV accumulate in per-task buffers
  // in a fixed order (no races, deterministic); dQ tiles are finished one at a time.
  static ATTN_INLINE void bwd_task_impl(const Attn& a, const Grads& g, int64_t b, int64_t kvh, int64_t h0, int64_t h1,
                                        float* dkp, float* dvp) {
    const int64_t D = a.D, Dp = (D + L - 1) / L * L, nvd = Dp / L;
    const size_t tile = static_cast<size_t>(Dp) * kBQ;  // (Dp, 64) query lanes or (64, Dp) rows
    float* Qt = scratch(6 * tile + 2 * kBK * kBQ + 2 * kBQ + 2 * static_cast<size_t>(a.S) * Dp);
    float *dOt = Qt + tile, *dQt = dOt + tile, *Qr = dQt + tile, *dOr = Qr + tile, *Xr = dOr + tile;  // Xr: scratch rows
    float *Sb = Xr + tile, *Pb = Sb + kBK * kBQ, *lse2 = Pb + kBK * kBQ, *delta = lse2 + kBQ;
    float *dKa = delta + kBQ, *dVa = dKa + a.S * Dp;
    std::fill(dKa, dKa + 2 * a.S * Dp, 0.f);
    const float c2 = a.scale * kAttnLog2e;
    const float* kp = a.k.p + b * a.k.s[0] + kvh * a.k.s[1];
    const float* vp = a.v.p + b * a.v.s[0] + kvh * a.v.s[1];
    TileInfo t;
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t qt = 0; qt < a.nqt; ++qt) {
        const int64_t q0 = qt * kBQ, nq = std::min<int64_t>(kBQ, a.T - q0);
        const int nvq = static_cast<int>((nq + L - 1) / L);
        const float* qp = a.q.p + b * a.q.s[0] + h * a.q.s[1] + q0 * a.q.s[2];
        const float* gp = g.dout.p + b * g.dout.s[0] + h * g.dout.s[1] + q0 * g.dout.s[2];
        const float* op = g.o + ((b * a.Hq + h) * a.T + q0) * D;
        const float* lp = g.lse + (b * a.Hq + h) * a.T + q0;
        // Qr, dOr: the tile's rows zero-padded to (64, Dp); Qt (scaled), dOt: their transposes (Dp, 64)
        pack_rows(qp, a.q.s[2], a.q.s[3], nq, D, Dp, Qr);
        pack_rows(gp, g.dout.s[2], g.dout.s[3], nq, D, Dp, dOr);
        transpose(Qr, Dp, Qt, kBQ, kBQ, Dp, c2);
        transpose(dOr, Dp, dOt, kBQ, kBQ, Dp, 1.f);
        // delta = rowsum(dO * O), lane-wise on O transposed through dQt (zeroed again below)
        pack_rows(op, D, 1, nq, D, Dp, Xr);
        transpose(Xr, Dp, dQt, kBQ, kBQ, Dp, 1.f);
        lane_dots(dOt, dQt, D, delta);
        bool rows_masked = nq < kBQ;
        for (int64_t i = 0; i < kBQ; ++i) {
          lse2[i] = i < nq ? lp[i] * kAttnLog2e : INFINITY;
          rows_masked |= std::isinf(lse2[i]);
        }
        std::fill(dQt, dQt + tile, 0.f);
        const int64_t kend = a.causal ? std::min(a.S, std::max<int64_t>(0, attn_key_end(q0 + nq - 1, a.T, a.S))) : a.S;
        for (int64_t k0 = 0; k0 < kend; k0 += kBK) {
          plan_tile<L>(t, a, b, k0, std::min<int64_t>(kBK, kend - k0), q0, nvq);
          // S^T = K Q^T and dP^T = V dO^T (keys x query lanes)
          for_runs(t, [&](int64_t j0, int64_t j1, int vs) {
            gemm<L>(nvq - vs, false, j1 - j0, kp + (k0 + j0) * a.k.s[2], a.k.s[2], a.k.s[3], Qt + vs * L, kBQ, D,
                    Sb + j0 * kBQ + vs * L, kBQ);
            gemm<L>(nvq - vs, false, j1 - j0, vp + (k0 + j0) * a.v.s[2], a.v.s[2], a.v.s[3], dOt + vs * L, kBQ, D,
                    Pb + j0 * kBQ + vs * L, kBQ);
          });
          probs_tile<L>(Sb, Pb, t, lse2, delta, rows_masked);
          // dV += P^T dO and dK += dS^T Q (keys x D lanes), over the query lanes each key block computed
          for_runs(t, [&](int64_t j0, int64_t j1, int vs) {
            const int64_t nqk = (nvq - vs) * L;
            gemm<L>(static_cast<int>(nvd), true, j1 - j0, Sb + j0 * kBQ + vs * L, kBQ, 1, dOr + vs * L * Dp, Dp, nqk,
                    dVa + (k0 + j0) * Dp, Dp);
            gemm<L>(static_cast<int>(nvd), true, j1 - j0, Pb + j0 * kBQ + vs * L, kBQ, 1, Qr + vs * L * Dp, Dp, nqk,
                    dKa + (k0 + j0) * Dp, Dp);
          });
          // dQ^T (D x query lanes) += K^T dS^T
          for_stairs(t, [&](int64_t j0, int64_t j1, int s) {
            gemm<L>(nvq - s, true, D, kp + (k0 + j0) * a.k.s[2], a.k.s[3], a.k.s[2], Pb + j0 * kBQ + s * L, kBQ, j1 - j0,
                    dQt + s * L, kBQ);
          });
        }
        transpose(dQt, kBQ, Xr, Dp, Dp, kBQ, a.scale);
        float* dqp = g.dq + ((b * a.Hq + h) * a.T + q0) * D;
        for (int64_t i = 0; i < nq; ++i)
          for (int64_t d = 0; d < D; ++d) dqp[i * D + d] = Xr[i * Dp + d];
      }
    }
    for (int64_t j = 0; j < a.S; ++j)
      for (int64_t d = 0; d < D; ++d) { dkp[j * D + d] = dKa[j * Dp + d] * a.scale; dvp[j * D + d] = dVa[j * Dp + d]; }
  }
};

// Each width's entry points, compiled for its instruction set; everything they call is inlined.
#define ATTN_ENTRIES(L_, TARGET)                                                                              \
  template <> TARGET void gemm<L_>(int nv, bool acc, int64_t M, const float* A, int64_t ars, int64_t acs,      \
                                   const float* B, int64_t ldb, int64_t K, float* C, int64_t ldc) {            \
    Lanes<L_>::gemm_impl(nv, acc, M, A, ars, acs, B, ldb, K, C, ldc);                                          \
  }                                                                                                            \
  template <> TARGET void softmax_tile<L_>(float* Sb, const TileInfo& t, float* m, float* l, float* Ot, int64_t D) { \
    Lanes<L_>::softmax_impl(Sb, t, m, l, Ot, D);                                                               \
  }                                                                                                            \
  template <> TARGET void probs_tile<L_>(float* Sb, float* Pb, const TileInfo& t, const float* lse2,           \
                                         const float* delta, bool rows_masked) {                               \
    Lanes<L_>::probs_impl(Sb, Pb, t, lse2, delta, rows_masked);                                                \
  }                                                                                                            \
  template <> TARGET void fwd_task<L_>(const Attn& a, float* o, float* lse, int64_t task) {                   \
    Lanes<L_>::fwd_task_impl(a, o, lse, task);                                                                 \
  }                                                                                                            \
  template <> TARGET void fwd_row_task<L_>(const Attn& a, float* o, float* lse, int64_t row) {                \
    Lanes<L_>::fwd_row_impl(a, o, lse, row);                                                                   \
  }                                                                                                            \
  template <> TARGET void bwd_task<L_>(const Attn& a, const Grads& g, int64_t b, int64_t kvh, int64_t h0,      \
                                       int64_t h1, float* dk, float* dv) {                                     \
    Lanes<L_>::bwd_task_impl(a, g, b, kvh, h0, h1, dk, dv);                                                    \
  }
ATTN_ENTRIES(16, ATTN_V4)
ATTN_ENTRIES(8, ATTN_V3)
ATTN_ENTRIES(4, )

// The widest vectors this CPU runs: 16 lanes with AVX-512 (x86-64-v4), 8 with AVX2 + FMA (v3), else 4.
// STELLAR_ATTENTION_LANES=8 or 4 picks a narrower width, so tests can cover every variant on one machine.
int lanes() {
  static const int n = [] {
    int best = 4;
#if ATTN_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) best = 16;
    else if (__builtin_cpu_supports("x86-64-v3")) best = 8;
#endif
    const char* e = std::getenv("STELLAR_ATTENTION_LANES");
    const int want = e ? std::atoi(e) : 0;
    return (want == 4 || want == 8 || want == 16) && want <= best ? want : best;
  }();
  return n;
}

// Runs task(i) for i in [0, n) on the pool, handing tasks out one at a time: uneven (causal) tasks and
// a core shared with other processes still balance. Each task writes only its own outputs, so the
// results do not depend on which thread ran what.
template <class F>
void run_tasks(int64_t n, F task) {
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(n, num_threads()), 1, [&](int64_t, int64_t) {
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) task(i);
  });
}

template <int L>
void forward(const Attn& a, float* o, float* lse) {
  if (Lanes<L>::rows_ok(a)) run_tasks(a.B * a.Hq * a.T, [&](int64_t i) { fwd_row_task<L>(a, o, lse, i); });
  else run_tasks(a.B * a.Hq * a.nqt, [&](int64_t i) { fwd_task<L>(a, o, lse, i); });
}

template <int L>
void backward(const Attn& a, const Grads& g) {
  const int64_t SD = a.S * a.D;
  if (a.B * a.Hkv >= num_threads() || a.group == 1) {
    run_tasks(a.B * a.Hkv, [&](int64_t i) {
      const int64_t kvh = i % a.Hkv;
      bwd_task<L>(a, g, i / a.Hkv, kvh, kvh * a.group, (kvh + 1) * a.group, g.dk + i * SD, g.dv + i * SD);
    });
    return;
  }
  // Fewer KV heads than threads (one sequence with MQA, say): one task per query head into partial
  // dK / dV, then a sum over each group's heads in a fixed order.
  const int64_t nq = a.B * a.Hq;
  std::vector<float> part(static_cast<size_t>(2 * nq * SD));
  run_tasks(nq, [&](int64_t i) {
    const int64_t h = i % a.Hq;
    bwd_task<L>(a, g, i / a.Hq, h / a.group, h, h + 1, part.data() + i * SD, part.data() + (nq + i) * SD);
  });
  parallel_for(a.B * a.Hkv * a.S, 64, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {  // r = (b * Hkv + kvh) * S + j
      const int64_t bk = r / a.S, j = r % a.S, first = (bk / a.Hkv * a.Hq + bk % a.Hkv * a.group) * SD + j * a.D;
      for (int64_t d = 0; d < a.D; ++d) {
        float sk = 0.f, sv = 0.f;
        for (int64_t hh = 0; hh < a.group; ++hh) { sk += part[first + hh * SD + d]; sv += part[nq * SD + first + hh * SD + d]; }
        g.dk[r * a.D + d] = sk;
        g.dv[r * a.D + d] = sv;
      }
    }
  });
}

Attn with_tiles(const AttnProblem& p) {
  Attn a;
  static_cast<AttnProblem&>(a) = p;
  a.nqt = (a.T + kBQ - 1) / kBQ;
  return a;
}

}  // namespace

// Forward. args: see shared/kernel_args/attention.h (causal, scale, has_mask, q (B, Hq, T, D),
// k (B, Hkv, S, D), v (B, Hkv, S, D), [mask (B, S)], o (B, Hq, T, D), lse (B, Hq, T)).
// q, k, v may be any strided float32 views. lse is the natural-log logsumexp of each row's scaled
// scores (+inf for a fully masked row, whose output is 0).
STELLAR_KERNEL("cpu/attention_fwd", r) {
  const AttnFwdArgs f = read_attn_fwd_args(r, Device::CPU);
  const Attn a = with_tiles(f.a);
  switch (lanes()) {
    case 16: forward<16>(a, f.o, f.lse); break;
    case 8: forward<8>(a, f.o, f.lse); break;
    default: forward<4>(a, f.o, f.lse); break;
  }
}

// Backward. args: see shared/kernel_args/attention.h (the forward's inputs, o and lse, dout, then
// dq, dk, dv, all contiguous and fully overwritten).
STELLAR_KERNEL("cpu/attention_bwd", r) {
  const AttnBwdArgs b = read_attn_bwd_args(r, Device::CPU);
  const Attn a = with_tiles(b.a);
  switch (lanes()) {
    case 16: backward<16>(a, b.g); break;
    case 8: backward<8>(a, b.g); break;
    default: backward<4>(a, b.g); break;
  }
}

}  // namespace stellar
