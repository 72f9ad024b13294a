// Per-element rules of the reductions, shared by the CPU and CUDA reduce kernels: which element wins
// for max/min/argmax/argmin (NaN first, then the extreme value, ties to the lowest flat index) and
// how mean / logsumexp finish. The rule does not depend on visiting order, so parallel partial
// results merge to the same answer as the sequential CPU loop.
#pragma once
#include <cmath>
#include <cstdint>
#include "hd.h"

namespace stellar {

enum ReduceOp : int { R_SUM = 0, R_MEAN, R_MAX, R_MIN, R_ARGMAX, R_LOGSUMEXP, R_ARGMIN };

constexpr int64_t kNoIndex = INT64_MAX;

STELLAR_HD bool reduce_is_min(int op) { return op == R_MIN || op == R_ARGMIN; }
STELLAR_HD bool reduce_is_sum(int op) { return op == R_SUM || op == R_MEAN; }

// Starting value for max/min-like ops; paired with the index kNoIndex so any real element replaces it.
STELLAR_HD float reduce_init(int op) { return reduce_is_min(op) ? INFINITY : -INFINITY; }

// Whether element (v, i) replaces the current best (b, bi).
STELLAR_HD bool reduce_prefer(bool is_min, float v, int64_t i, float b, int64_t bi) {
  bool vn = v != v, bn = b != b;
  if (vn || bn) return vn && (!bn || i < bi);
  if (v == b) return i < bi;
  return is_min ? v < b : v > b;
}

STELLAR_HD float reduce_mean(double sum, int64_t n) { return static_cast<float>(n ? sum / static_cast<double>(n) : NAN); }

// logsumexp needs the max first; rows whose max is +-inf or NaN return it unchanged.
STELLAR_HD bool lse_passthrough(float m) { return m != m || m == INFINITY || m == -INFINITY; }
STELLAR_HD float lse_finish(float m, double sum_exp) { return m + static_cast<float>(log(sum_exp)); }

}  // namespace stellar
