// Forward tile kernel of the CPU attention: one query tile of one head (64 queries along the lanes)
// against all keys it can see, key tile by key tile, with an online softmax.
#include "lanes.h"

namespace stellar {
namespace attn {
namespace {
template <int L> void softmax_tile(float* Sb, const TileInfo& t, float* m, float* l, float* Ot, int64_t D);
}  // namespace

template <int L>
struct FwdTile : Lanes<L> {
  ATTN_LANES(L)

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
    int64_t kbeg = 0, kend = a.causal ? std::min(a.S, std::max<int64_t>(0, attn_key_end(q0 + nq - 1, a.T, a.S))) : a.S;
    SegTile sg;
    if (a.seg) {  // packed rows: only the keys of the tile's segments
      plan_seg_tile(sg, a, b, q0, nq);
      kbeg = sg.kbeg;
      kend = std::min(kend, sg.kend);
    }
    const float* kp = a.k.p + b * a.k.s[0] + kvh * a.k.s[1];
    const float* vp = a.v.p + b * a.v.s[0] + kvh * a.v.s[1];
    TileInfo t;
    for (int64_t k0 = kbeg; k0 < kend; k0 += kBK) {
      const int64_t nk = std::min<int64_t>(kBK, kend - k0);
      const int cover = a.seg ? seg_cover(sg, a, b, k0, nk) : 1;
      if (cover == 0) continue;
      plan_tile<L>(t, a, b, k0, nk, q0, nvq, cover == 2 ? sg.ids : nullptr);
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
};

// softmax_tile stays file-local (the one caller inlines it); fwd_task is kernels.cc's entry point.
#define ATTN_FWD_ENTRIES(L_, TARGET)                                                                  \
  namespace {                                                                                         \
  template <> TARGET void softmax_tile<L_>(float* Sb, const TileInfo& t, float* m, float* l, float* Ot, \
                                           int64_t D) {                                               \
    FwdTile<L_>::softmax_impl(Sb, t, m, l, Ot, D);                                                    \
  }                                                                                                   \
  }                                                                                                   \
  template <> TARGET void fwd_task<L_>(const Attn& a, float* o, float* lse, int64_t task) {           \
    FwdTile<L_>::fwd_task_impl(a, o, lse, task);                                                      \
  }
ATTN_FOR_EACH_WIDTH(ATTN_FWD_ENTRIES)

}  // namespace attn
}  // namespace stellar
