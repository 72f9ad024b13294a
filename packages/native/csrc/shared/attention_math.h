// Per-element math of fused attention shared by the CPU and CUDA kernels: the causal visibility rule
// (queries are the last T of S positions), base-2 softmax constants, the exp2 polynomial and the
// per-row finalisation (output scale and logsumexp, with fully masked rows giving zeros).
#pragma once
#include <cmath>
#include <cstdint>
#include "hd.h"

namespace stellar {

// Scores are kept in base 2 (scaled by log2(e)) so the softmax needs exp2 only.
constexpr float kAttnLog2e = 1.4426950408889634f;
constexpr float kAttnLn2 = 0.6931471805599453f;

// Causal rule with a KV cache: query i of T sits at absolute position S - T + i and sees exactly the
// keys j < attn_key_end(i, T, S) (with T == S, the usual lower triangle).
STELLAR_HD int64_t attn_key_end(int64_t i, int64_t T, int64_t S) { return S - T + i + 1; }

// 2^f for f in [-0.5, 0.5]: degree-6 fit of 2^f (relative error 2e-9 in exact arithmetic, ~1e-7
// in float32). Written with * and + only so it also evaluates lane-wise on vector types.
template <typename V>
STELLAR_HD V attn_exp2_poly(V f) {
  V p = f * 1.5345800e-4f + 1.3399932e-3f;
  p = p * f + 9.6184890e-3f;
  p = p * f + 5.5503286e-2f;
  p = p * f + 2.4022646e-1f;
  p = p * f + 6.9314720e-1f;
  return p * f + 1.0f;
}

// 1 / (row sum) for the output, or 0 for a row whose keys were all masked (sum 0).
STELLAR_HD float attn_out_scale(float l) { return l > 0.f ? 1.0f / l : 0.f; }

// Natural-log logsumexp of the scaled scores from the base-2 running max m2 and sum l;
// +inf for a fully masked row, so exp(score - lse) is 0 there in the backward pass.
STELLAR_HD float attn_row_lse(float m2, float l) { return l > 0.f ? (m2 + log2f(l)) * kAttnLn2 : INFINITY; }

}  // namespace stellar
