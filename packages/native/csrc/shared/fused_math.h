// Per-element math of the fused kernels (SwiGLU, RoPE/XPos, cross-entropy exp, AdamW), shared by
// the CPU kernels and their future CUDA twins so the CPU tests cover what the GPU computes.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include "hd.h"

namespace stellar {

STELLAR_HD float fused_bits_to_float(int32_t i) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(i);
#else
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
#endif
}

// exp(x) within 1.2 ulp (checked over [-87, 88]), written branch-free so the compiler vectorizes
// it (glibc's expf stays scalar without -ffast-math). Cody-Waite reduction x = n ln2 + r,
// |r| <= ln2/2, then a degree-7 Taylor polynomial (truncation error < 6e-9 relative).
// Flushes to 0 below -87.3 (no denormals); NaN stays NaN.
STELLAR_HD float fused_expf(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447505531f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  // adding and removing 1.5 * 2^23 rounds to the nearest integer without a (non-vectorized) call
  float fn = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;
  float r = xc - fn * 0.693145751953125f;   // ln2 split in a high part exact in float ...
  r = r - fn * 1.428606765330187e-06f;      // ... and the remainder
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  float scale = fused_bits_to_float((static_cast<int32_t>(fn) + 127) << 23);
  float y = p * scale;
  y = x < lo ? 0.f : y;
  y = x > hi ? INFINITY : y;
  return x != x ? x : y;
}

// ---- SwiGLU: y = silu(gate) * up ----------------------------------------------------------------

STELLAR_HD float swiglu_fwd(float gate, float up) {
  float s = 1.f / (1.f + fused_expf(-gate));
  return gate * s * up;
}

// dgate = dy * up * silu'(gate), dup = dy * silu(gate), with silu'(g) = s (1 + g (1 - s)).
STELLAR_HD void swiglu_bwd(float gate, float up, float dy, float* dgate, float* dup) {
  float s = 1.f / (1.f + fused_expf(-gate));
  *dup = dy * gate * s;
  *dgate = dy * up * s * (1.f + gate * (1.f - s));
}

// ---- RoPE (Hugging Face rotate_half layout) and XPos -------------------------------------------

// Angular frequency of pair i (dims i and i + D/2) of a head of size D: theta^(-2i/D).
STELLAR_HD double rope_inv_freq(int64_t i, int64_t D, double theta) {
  return pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(D));
}

// XPos per-pair scale zeta_i^(pos / scaleBase), zeta_i = (2i/D + 0.4) / 1.4 (Sun et al. 2022).
// sign = +1 for queries (multiply), -1 for keys (divide).
STELLAR_HD double xpos_scale(int64_t i, int64_t D, double pos, double scale_base, double sign) {
  double zeta = (2.0 * static_cast<double>(i) / static_cast<double>(D) + 0.4) / 1.4;
  return pow(zeta, sign * pos / scale_base);
}

// Coefficients of pair i at one position: (cos, sin) of pos_rot * inv_freq, both times the XPos
// scale. Computed in double so large positions keep their accuracy; rounded to float once.
STELLAR_HD void rope_coeffs(double pos_rot, double inv_freq, double scale, float* c, float* sn) {
  double a = pos_rot * inv_freq;
  *c = static_cast<float>(cos(a) * scale);
  *sn = static_cast<float>(sin(a) * scale);
}

// Rotates the pair (x1, x2) = (x[i], x[i + D/2]) (rotate_half layout, the scale is folded into c, sn):
// y1 = x1 c - x2 sn, y2 = x2 c + x1 sn. Passing -sn gives the transposed rotation (the backward).
STELLAR_HD void rope_rotate(float x1, float x2, float c, float sn, float* y1, float* y2) {
  *y1 = x1 * c - x2 * sn;
  *y2 = x2 * c + x1 * sn;
}

// ---- Cross-entropy ------------------------------------------------------------------------------

// Row loss with PyTorch label smoothing eps over V classes:
// (1 - eps) * (lse - x_t) + eps/V * sum_c (lse - x_c) = lse - (1 - eps) x_t - eps/V * sum_c x_c.
STELLAR_HD float xent_row_loss(float lse, float x_target, double sum_x, float eps, int64_t V) {
  return static_cast<float>(static_cast<double>(lse) - (1.0 - eps) * x_target - eps * sum_x / static_cast<double>(V));
}

// ---- AdamW (PyTorch torch.optim.AdamW, single-tensor path) --------------------------------------

// Host-computed per-step constants (in double, rounded to float once, as PyTorch's Python scalars are).
struct AdamWConsts {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  float step_size;    // lr / (1 - beta1^step)
  float bc2_sqrt;     // sqrt(1 - beta2^step)
  bool maximize;
};

// One element, in the order of PyTorch's single-tensor AdamW:
// p *= 1 - lr*wd; m = lerp(m, g, 1-beta1); v = beta2 v + (1-beta2) g^2;
// p += -step_size * m / (sqrt(v) / bc2_sqrt + eps).
STELLAR_HD void adamw_update(float* p, float g, float* m, float* v, float decay, const AdamWConsts& k) {
  float gg = k.maximize ? -g : g;
  float pv = *p * decay;
  float mv = *m + k.one_minus_beta1 * (gg - *m);
  float vv = *v * k.beta2 + k.one_minus_beta2 * gg * gg;
  float denom = sqrtf(vv) / k.bc2_sqrt + k.eps;
  *p = pv + (-k.step_size * mv) / denom;
  *m = mv;
  *v = vv;
}

}  // namespace stellar
