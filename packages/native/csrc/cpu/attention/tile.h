// Tiles of the CPU attention kernels: sizes, the call with its tile count, the per-tile plan of what the
// causal, padding and segment masks leave to compute, and the per-width entry points the other files define.
//
// The kernels are flash style: nothing of size T x S is stored; work goes through 64-query x 64-key
// tiles in per-thread buffers, with the queries along the SIMD lanes so the per-query softmax
// statistics need no horizontal reductions and K / V are read in place (one broadcast per element).
// The code is written once over L-lane vectors (lanes.h) and compiled three times: L = 16 for AVX-512,
// 8 for AVX2 + FMA and 4 for the portable baseline (a 16-lane vector lowered to SSE or AVX2 registers
// spills badly, so target_clones of a single width is not enough here). Each width's entry points are
// explicit specializations carrying that width's target ISA; everything they call is inlined into them.
// kernels.cc picks the widest width the CPU supports at run time.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>
#include "../../core/common.h"
#include "../../shared/attention_math.h"
#include "../../shared/kernel_args/attention.h"

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
// M(L, target) for each vector width and the instruction set its entry points are compiled for.
#define ATTN_FOR_EACH_WIDTH(M) M(16, ATTN_V4) M(8, ATTN_V3) M(4, )

namespace stellar {
namespace attn {

constexpr int kBQ = 64;               // queries per tile
constexpr int kBK = 64;               // keys per tile
constexpr int kG = 4;                 // key rows per block; causal skipping works per block
constexpr int kMaxNVQ = kBQ / 4;      // query vectors per tile at the narrowest width
constexpr int64_t kRowsMaxT = 8;      // up to this many queries, the one-row-per-task path (decode.cc)

using Grads = AttnGrads;

// One attention call (shared/kernel_args/attention.h) plus the number of query tiles.
struct Attn : AttnProblem {
  int64_t nqt = 0;
  // With segment ids: query i of row b sees no key outside [klo, khi)[b * T + i] (the span of its id,
  // cut at the causal end), so key tiles outside a query tile's spans are skipped like causal ones.
  const int64_t* klo = nullptr;
  const int64_t* khi = nullptr;
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
  const int32_t* qseg = nullptr;  // segment ids of the 64 query lanes when scores need the id test; null: none
  const int32_t* kseg = nullptr;  // segment id of key row 0, stride kss
  int64_t kss = 0;
};

// Segment ids of one query tile: the ids along the lanes, its distinct ids and the keys its spans cover.
struct SegTile {
  alignas(64) int32_t ids[kBQ];  // lanes past the tile's queries repeat the last id
  int32_t uniq[kBQ];             // distinct ids, nuniq of them
  int nuniq = 0;
  int64_t kbeg = 0, kend = 0;    // union of the queries' spans [klo, khi)
};

inline void plan_seg_tile(SegTile& st, const Attn& a, int64_t b, int64_t q0, int64_t nq) {
  st.nuniq = 0;
  st.kbeg = a.S;
  st.kend = 0;
  for (int64_t i = 0; i < kBQ; ++i) {
    const int64_t qi = std::min(i, nq - 1);
    const int32_t id = attn_seg(a, b, a.S - a.T + q0 + qi);
    st.ids[i] = id;
    if (i >= nq) continue;
    st.kbeg = std::min(st.kbeg, a.klo[b * a.T + q0 + i]);
    st.kend = std::max(st.kend, a.khi[b * a.T + q0 + i]);
    if (std::find(st.uniq, st.uniq + st.nuniq, id) == st.uniq + st.nuniq) st.uniq[st.nuniq++] = id;
  }
}

// What segment ids leave of keys [k0, k0 + nk) for a query tile: 0 = none visible (skip the tile),
// 1 = all visible to every query (no test), 2 = test each score.
inline int seg_cover(const SegTile& st, const Attn& a, int64_t b, int64_t k0, int64_t nk) {
  const int32_t* ks = a.seg + b * a.ss0 + k0 * a.ss1;
  bool any = false, all = st.nuniq == 1;
  for (int64_t j = 0; j < nk; ++j) {
    const int32_t id = ks[j * a.ss1];
    if (st.nuniq == 1) {
      const bool eq = id == st.uniq[0];
      any |= eq;
      all &= eq;
    } else if (!any) {
      any = std::find(st.uniq, st.uniq + st.nuniq, id) != st.uniq + st.nuniq;
    }
    if (any && !all) break;
  }
  return !any ? 0 : all ? 1 : 2;
}

// qseg: the tile's query ids when seg_cover said 2, else null.
template <int L>
void plan_tile(TileInfo& t, const Attn& a, int64_t b, int64_t k0, int64_t nk, int64_t q0, int nvq,
               const int32_t* qseg = nullptr) {
  t.nk = nk;
  t.nvq = nvq;
  t.causal = a.causal;
  t.thr0 = k0 + 1 - attn_key_end(q0, a.T, a.S);  // key k0 + j is hidden from query q0 + i when i < thr0 + j
  t.km = a.mask ? a.mask + b * a.ms0 + k0 * a.ms1 : nullptr;
  t.kms = a.ms1;
  t.qseg = qseg;
  t.kseg = qseg ? a.seg + b * a.ss0 + k0 * a.ss1 : nullptr;
  t.kss = a.ss1;
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

// One per-thread buffer for the tiles of both the forward and the backward.
inline float* scratch(size_t n) {
  static thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// Whether the one-row-per-task path (decode.cc) takes this call at width L.
template <int L>
bool decode_fits(const Attn& a) {
  return a.T <= kRowsMaxT && a.D % L == 0 && a.D <= 8 * L && a.k.s[3] == 1 && a.v.s[3] == 1;
}

// Per-width entry points: C (+)= A @ B of a tile (tile_gemm.cc), one forward query tile (forward.cc),
// one forward query row (decode.cc), one backward task (backward.cc).
template <int L> void gemm(int nv, bool acc, int64_t M, const float* A, int64_t ars, int64_t acs, const float* B,
                           int64_t ldb, int64_t K, float* C, int64_t ldc);
template <int L> void fwd_task(const Attn& a, float* o, float* lse, int64_t task);
template <int L> void fwd_row_task(const Attn& a, float* o, float* lse, int64_t row);
template <int L> void bwd_task(const Attn& a, const Grads& g, int64_t b, int64_t kvh, int64_t h0, int64_t h1, float* dk, float* dv);

#define ATTN_DECLARE_ENTRIES(L_, TARGET)                                                                 \
  template <> TARGET void gemm<L_>(int nv, bool acc, int64_t M, const float* A, int64_t ars, int64_t acs, \
                                   const float* B, int64_t ldb, int64_t K, float* C, int64_t ldc);       \
  template <> TARGET void fwd_task<L_>(const Attn& a, float* o, float* lse, int64_t task);              \
  template <> TARGET void fwd_row_task<L_>(const Attn& a, float* o, float* lse, int64_t row);           \
  template <> TARGET void bwd_task<L_>(const Attn& a, const Grads& g, int64_t b, int64_t kvh, int64_t h0, \
                                       int64_t h1, float* dk, float* dv);
ATTN_FOR_EACH_WIDTH(ATTN_DECLARE_ENTRIES)
#undef ATTN_DECLARE_ENTRIES

}  // namespace attn
}  // namespace stellar
