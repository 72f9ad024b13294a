// Fused RMSNorm over the last dim (LLaMA semantics, fp32) and its backward, with a deterministic
// weight-gradient reduction (fixed row chunks combined in a fixed order, whatever the thread count).
#include <algorithm>
#include <cmath>
#include <vector>
#include "../core/registry.h"
#include "../core/simd.h"
#include "../core/threadpool.h"

namespace stellar {
namespace {

// The number of row chunks for the weight gradient depends only on the row count, so the result is
// bit-identical across thread counts.
constexpr int64_t kWeightChunks = 32;

// sum_i a[i] * b[i]; 16 float lanes keep the loop vectorized, partials are combined in double.
STELLAR_MULTIVERSION double dot_f32(const float* a, const float* b, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) acc[l] += a[i + l] * b[i + l];
  double s = 0;
  for (int l = 0; l < 16; ++l) s += acc[l];
  for (; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// sum_i g[i] * w[i] * x[i]
STELLAR_MULTIVERSION double dot3_f32(const float* g, const float* w, const float* x, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) acc[l] += g[i + l] * w[i + l] * x[i + l];
  double s = 0;
  for (int l = 0; l < 16; ++l) s += acc[l];
  for (; i < n; ++i) s += static_cast<double>(g[i]) * w[i] * x[i];
  return s;
}

STELLAR_MULTIVERSION void rmsnorm_row(const float* x, const float* w, float* y, int64_t n, float r) {
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * r) * w[i];
}

// dx = r g w - (r^3 dot / C) x; dw_partial += g x r
STELLAR_MULTIVERSION void rmsnorm_bwd_row(const float* x, const float* w, const float* g, float* dx, float* dwp,
                                          int64_t n, float r, float c) {
  for (int64_t i = 0; i < n; ++i) {
    dx[i] = r * g[i] * w[i] - c * x[i];
    dwp[i] += g[i] * (x[i] * r);
  }
}

void check(const TDesc& t, int64_t C, const char* what) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.contiguous(), std::string("fused_rmsnorm: ") + what + " must be contiguous float32");
  STELLAR_CHECK(t.ndim >= 1 && t.shape[t.ndim - 1] == C, std::string("fused_rmsnorm: ") + what + " has the wrong last dim");
}

}  // namespace

// args: eps, x (..., C), weight (C), y (..., C), rstd (rows)
STELLAR_KERNEL("cpu/fused_rmsnorm", a) {
  double eps = a.f();
  TDesc x = a.t(), w = a.t(), y = a.t(), rstd = a.t();
  STELLAR_CHECK(x.ndim >= 1, "fused_rmsnorm: scalar input");
  int64_t C = x.shape[x.ndim - 1], rows = C ? x.numel / C : 0;
  check(x, C, "x"); check(w, C, "weight"); check(y, C, "y");
  STELLAR_CHECK(w.numel == C, "fused_rmsnorm: weight must have C elements");
  STELLAR_CHECK(rstd.dtype == DType::F32 && rstd.contiguous() && rstd.numel == rows, "fused_rmsnorm: rstd must be (rows) float32");
  const float* xp = x.ptr<float>(); const float* wp = w.ptr<float>();
  float* yp = y.ptr<float>(); float* rp = rstd.ptr<float>();
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = xp + r * C;
      double ms = C ? dot_f32(xr, xr, C) / static_cast<double>(C) : 0.0;
      float rs = static_cast<float>(1.0 / std::sqrt(ms + eps));
      rp[r] = rs;
      rmsnorm_row(xr, wp, yp + r * C, C, rs);
    }
  });
}

// args: x (..., C), weight (C), rstd (rows), g (..., C), dx (..., C), dweight (C)
STELLAR_KERNEL("cpu/fused_rmsnorm_backward", a) {
  TDesc x = a.t(), w = a.t(), rstd = a.t(), g = a.t(), dx = a.t(), dw = a.t();
  STELLAR_CHECK(x.ndim >= 1, "fused_rmsnorm_backward: scalar input");
  int64_t C = x.shape[x.ndim - 1], rows = C ? x.numel / C : 0;
  check(x, C, "x"); check(w, C, "weight"); check(g, C, "grad"); check(dx, C, "dx"); check(dw, C, "dweight");
  STELLAR_CHECK(g.numel == x.numel && dx.numel == x.numel, "fused_rmsnorm_backward: size mismatch");
  STELLAR_CHECK(rstd.dtype == DType::F32 && rstd.contiguous() && rstd.numel == rows, "fused_rmsnorm_backward: rstd must be (rows) float32");
  const float* xp = x.ptr<float>(); const float* wp = w.ptr<float>(); const float* rp = rstd.ptr<float>();
  const float* gp = g.ptr<float>(); float* dxp = dx.ptr<float>(); float* dwp = dw.ptr<float>();
  int64_t nchunks = std::min<int64_t>(rows, kWeightChunks);
  if (nchunks == 0) { std::fill(dwp, dwp + C, 0.f); return; }
  std::vector<float> partial(static_cast<size_t>(nchunks * C), 0.f);
  parallel_for(nchunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      int64_t r0 = c * rows / nchunks, r1 = (c + 1) * rows / nchunks;
      float* acc = partial.data() + c * C;
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = xp + r * C; const float* gr = gp + r * C;
        float rs = rp[r];
        double dot = dot3_f32(gr, wp, xr, C);
        float coef = static_cast<float>(static_cast<double>(rs) * rs * rs * dot / static_cast<double>(C));
        rmsnorm_bwd_row(xr, wp, gr, dxp + r * C, acc, C, rs, coef);
      }
    }
  });
  parallel_for(C, 4096, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      double s = 0;
      for (int64_t c = 0; c < nchunks; ++c) s += partial[static_cast<size_t>(c * C + j)];
      dwp[j] = static_cast<float>(s);
    }
  });
}

}  // namespace stellar
