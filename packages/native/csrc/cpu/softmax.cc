// Softmax and log-softmax over the last dim of contiguous rows, with their backward kernels.
#include <cmath>
#include "../core/registry.h"
#include "../core/simd.h"
#include "../core/threadpool.h"
#include "../shared/softmax_math.h"

namespace stellar {
namespace {

STELLAR_MULTIVERSION void softmax_row(const float* x, float* y, int64_t n, bool log) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  if (softmax_row_masked(m)) {  // an all -inf row (fully masked): zeros (softmax) / -inf (log-softmax)
    for (int64_t i = 0; i < n; ++i) y[i] = softmax_masked_value(log);
    return;
  }
  double s = 0;
  for (int64_t i = 0; i < n; ++i) { float e = softmax_exp(x[i], m); y[i] = e; s += e; }
  if (log) {
    float ls = logsoftmax_lse(m, s);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] - ls;
  } else {
    float inv = softmax_inv(s);
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}

void check_rows(const TDesc& t, int64_t n, const char* what) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.contiguous(), std::string(what) + ": expects contiguous float32");
  STELLAR_CHECK(t.ndim >= 1 && t.shape[t.ndim - 1] == n, std::string(what) + ": last dim mismatch");
}

}  // namespace

// args: log(0/1), x, y
STELLAR_KERNEL("cpu/softmax", a) {
  bool log = a.b();
  TDesc x = a.t(), y = a.t();
  STELLAR_CHECK(x.ndim >= 1, "softmax: scalar input");
  int64_t n = x.shape[x.ndim - 1], rows = n ? x.numel / n : 0;
  check_rows(x, n, "softmax"); check_rows(y, n, "softmax");
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) softmax_row(x.ptr<float>() + r * n, y.ptr<float>() + r * n, n, log);
  });
}

// softmax:     gx = y * (g - sum(g * y))
// log-softmax: gx = g - exp(y) * sum(g)
// args: log, y, g, gx
STELLAR_KERNEL("cpu/softmax_backward", a) {
  bool log = a.b();
  TDesc y = a.t(), g = a.t(), gx = a.t();
  int64_t n = y.shape[y.ndim - 1], rows = n ? y.numel / n : 0;
  check_rows(y, n, "softmax_backward"); check_rows(g, n, "softmax_backward"); check_rows(gx, n, "softmax_backward");
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* yr = y.ptr<float>() + r * n; const float* gr = g.ptr<float>() + r * n; float* o = gx.ptr<float>() + r * n;
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += softmax_bwd_term(log, gr[i], yr[i]);
      for (int64_t i = 0; i < n; ++i) o[i] = softmax_bwd(log, yr[i], gr[i], s);
    }
  });
}

}  // namespace stellar
