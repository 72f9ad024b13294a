// Forward of the CPU attention with few queries (KV-cache decoding): one query row per task.
// The tile path would leave most query lanes empty, so q and the output accumulator live in
// registers (lanes along D), each key's score is a D-lane dot product, and L of those are summed
// at once by a shuffle tree into one vector of scores.
#include "lanes.h"

namespace stellar {
namespace attn {

template <int L>
struct DecodeRow : Lanes<L> {
  ATTN_LANES(L)

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
    int64_t kbeg = 0, kend = a.causal ? std::min(a.S, std::max<int64_t>(0, attn_key_end(i, a.T, a.S))) : a.S;
    const uint8_t* km = a.mask ? a.mask + b * a.ms0 : nullptr;
    const int32_t* ks = a.seg ? a.seg + b * a.ss0 : nullptr;  // packed rows: only keys with the query's id
    const int32_t qid = ks ? ks[(a.S - a.T + i) * a.ss1] : 0;
    if (ks) {
      kbeg = a.klo[b * a.T + i];
      kend = std::min(kend, a.khi[b * a.T + i]);
    }
    float m = -INFINITY, l = 0.f;
    alignas(64) float sc[kBK];
    for (int64_t k0 = kbeg; k0 < kend; k0 += kBK) {
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
      if (ks)
        for (int64_t j = 0; j < nk; ++j)
          if (ks[(k0 + j) * a.ss1] != qid) sc[j] = -INFINITY;
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
};

#define ATTN_DECODE_ENTRY(L_, TARGET)                                                          \
  template <> TARGET void fwd_row_task<L_>(const Attn& a, float* o, float* lse, int64_t row) { \
    DecodeRow<L_>::fwd_row_impl(a, o, lse, row);                                               \
  }
ATTN_FOR_EACH_WIDTH(ATTN_DECODE_ENTRY)

}  // namespace attn
}  // namespace stellar
