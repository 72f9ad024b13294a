// Per-element sampling shared by the CPU and CUDA random kernels: the distribution transforms of the
// Philox streams and the multinomial inverse-CDF search, so both devices draw identical samples.
#pragma once
#include <cstdint>
#include "hd.h"
#include "philox.h"

namespace stellar {

enum Dist : int { D_UNIFORM = 0, D_NORMAL = 1, D_BERNOULLI = 2 };

// uniform: [p0, p1); normal: mean p0, std p1; bernoulli: value p1 with probability p0, else 0.
STELLAR_HD float rng_sample(int dist, float p0, float p1, uint64_t seed, uint64_t offset, uint64_t i) {
  switch (dist) {
    case D_UNIFORM: return p0 + (p1 - p0) * philox_uniform(seed, offset, i);
    case D_NORMAL: return p0 + p1 * philox_normal(seed, offset, i);
    default: return philox_uniform(seed, offset, i) < p0 ? p1 : 0.f;
  }
}

STELLAR_HD bool multinomial_weight_ok(float w) { return w >= 0.f && w != INFINITY; }  // false for NaN too

// The uniform draw for sample k of row r (n samples per row), scaled to the row total s.
STELLAR_HD double multinomial_target(uint64_t seed, uint64_t offset, int64_t r, int64_t n, int64_t k, double s) {
  return philox_uniform(seed, offset, static_cast<uint64_t>(r * n + k)) * s;
}

// First index whose inclusive prefix sum exceeds u, moved off zero-weight entries.
STELLAR_HD int64_t multinomial_pick(const double* cdf, const float* w, int64_t V, double u) {
  int64_t lo = 0, hi = V - 1;
  while (lo < hi) { int64_t mid = (lo + hi) / 2; if (cdf[mid] > u) hi = mid; else lo = mid + 1; }
  while (lo > 0 && w[lo] == 0) --lo;  // never land on a zero-weight entry
  while (w[lo] == 0 && lo < V - 1) ++lo;
  return lo;
}

}  // namespace stellar
