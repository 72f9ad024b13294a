// Row math of softmax / log-softmax and their backward, shared by the CPU and CUDA kernels.
// The max and the sums are reduced by each backend its own way; these finish the row.
#pragma once
#include <cmath>
#include "hd.h"

namespace stellar {

// An all -inf row (fully masked) is defined as zeros (softmax) / -inf (log-softmax).
STELLAR_HD bool softmax_row_masked(float m) { return m == -INFINITY; }
STELLAR_HD float softmax_masked_value(bool log) { return log ? -INFINITY : 0.f; }

STELLAR_HD float softmax_exp(float x, float m) { return expf(x - m); }
// y = e * inv for softmax; y = x - lse for log-softmax. s is the sum of softmax_exp over the row.
STELLAR_HD float softmax_inv(double s) { return static_cast<float>(1.0 / s); }
STELLAR_HD float logsoftmax_lse(float m, double s) { return m + static_cast<float>(log(s)); }

// softmax:     gx = y * (g - sum(g * y));  s = sum(g * y)
// log-softmax: gx = g - exp(y) * sum(g);   s = sum(g)
STELLAR_HD double softmax_bwd_term(bool log, float g, float y) { return log ? static_cast<double>(g) : static_cast<double>(g) * y; }
STELLAR_HD float softmax_bwd(bool log, float y, float g, double s) {
  return log ? g - expf(y) * static_cast<float>(s) : y * (g - static_cast<float>(s));
}

}  // namespace stellar
