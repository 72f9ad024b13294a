// Backward kernel of the CPU attention: per (batch, KV head) or per query head, recomputes each tile's
// probabilities from the forward's logsumexp and accumulates dQ, dK and dV without storing T x S.
#include "lanes.h"

namespace stellar {
namespace attn {
namespace {
template <int L> void probs_tile(float* Sb, float* Pb, const TileInfo& t, const float* lse2, const float* delta, bool rows_masked);
}  // namespace

template <int L>
struct BwdTile : Lanes<L> {
  ATTN_LANES(L)

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
    SegTile sg;
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
        int64_t kbeg = 0, kend = a.causal ? std::min(a.S, std::max<int64_t>(0, attn_key_end(q0 + nq - 1, a.T, a.S))) : a.S;
        if (a.seg) {  // packed rows: only the keys of the tile's segments
          plan_seg_tile(sg, a, b, q0, nq);
          kbeg = sg.kbeg;
          kend = std::min(kend, sg.kend);
        }
        for (int64_t k0 = kbeg; k0 < kend; k0 += kBK) {
          const int64_t nk = std::min<int64_t>(kBK, kend - k0);
          const int cover = a.seg ? seg_cover(sg, a, b, k0, nk) : 1;
          if (cover == 0) continue;
          plan_tile<L>(t, a, b, k0, nk, q0, nvq, cover == 2 ? sg.ids : nullptr);
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

// probs_tile stays file-local (the one caller inlines it); bwd_task is kernels.cc's entry point.
#define ATTN_BWD_ENTRIES(L_, TARGET)                                                                \
  namespace {                                                                                       \
  template <> TARGET void probs_tile<L_>(float* Sb, float* Pb, const TileInfo& t, const float* lse2, \
                                         const float* delta, bool rows_masked) {                    \
    BwdTile<L_>::probs_impl(Sb, Pb, t, lse2, delta, rows_masked);                                   \
  }                                                                                                 \
  }                                                                                                 \
  template <> TARGET void bwd_task<L_>(const Attn& a, const Grads& g, int64_t b, int64_t kvh, int64_t h0, \
                                       int64_t h1, float* dk, float* dv) {                          \
    BwdTile<L_>::bwd_task_impl(a, g, b, kvh, h0, h1, dk, dv);                                       \
  }
ATTN_FOR_EACH_WIDTH(ATTN_BWD_ENTRIES)

}  // namespace attn
}  // namespace stellar
