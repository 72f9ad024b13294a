// Fused softmax cross-entropy over (N, V) logits with integer targets, ignore_index and PyTorch
// label smoothing. The forward streams the vocabulary in chunks with an online logsumexp (no (N, V)
// softmax is ever allocated) and saves the per-row logsumexp; the backward recomputes softmax from it.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include "../core/registry.h"
#include "../core/simd.h"
#include "../core/threadpool.h"
#include "../shared/fused_math.h"
#include "../shared/kernel_args/cross_entropy.h"

namespace stellar {
namespace {

// Small enough that a chunk and its exp values stay in L1 between the passes over it.
constexpr int64_t kChunk = 2048;

STELLAR_MULTIVERSION float max_f32(const float* x, int64_t n) {
  float acc[16];
  for (int l = 0; l < 16; ++l) acc[l] = -INFINITY;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
  float m = -INFINITY;
  for (int l = 0; l < 16; ++l) m = acc[l] > m ? acc[l] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

STELLAR_MULTIVERSION double sum_f32(const float* x, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) acc[l] += x[i + l];
  double s = 0;
  for (int l = 0; l < 16; ++l) s += acc[l];
  for (; i < n; ++i) s += x[i];
  return s;
}

STELLAR_MULTIVERSION void exp_shifted(const float* x, float* out, int64_t n, float m) {
  for (int64_t i = 0; i < n; ++i) out[i] = fused_expf(x[i] - m);
}

// d = scale * (exp(x - lse) - eps / V)
STELLAR_MULTIVERSION void softmax_grad_row(const float* x, float* d, int64_t n, float lse, float scale, float smooth) {
  for (int64_t i = 0; i < n; ++i) d[i] = scale * (fused_expf(x[i] - lse) - smooth);
}

// Online logsumexp over the row in chunks; also sum(x) when label smoothing needs it.
float row_lse(const float* x, int64_t V, bool want_sum, double* sum_x) {
  float tmp[kChunk];
  float m = -INFINITY;
  double s = 0, sx = 0;
  for (int64_t c0 = 0; c0 < V; c0 += kChunk) {
    int64_t n = std::min<int64_t>(kChunk, V - c0);
    const float* xc = x + c0;
    float cm = max_f32(xc, n);
    if (cm > m) {
      if (s > 0) s *= std::exp(static_cast<double>(m) - cm);
      m = cm;
    }
    if (m == -INFINITY) continue;  // everything so far is -inf: contributes nothing
    exp_shifted(xc, tmp, n, m);
    s += sum_f32(tmp, n);
    if (want_sum) sx += sum_f32(xc, n);
  }
  *sum_x = sx;
  if (std::isnan(s)) return NAN;  // NaN logits: keep the NaN visible in the loss
  return m + static_cast<float>(std::log(s));
}

int64_t read_target(const TDesc& t, int64_t r) {
  int64_t off = r * (t.ndim ? t.strides[0] : 0);
  return t.dtype == DType::I32 ? t.ptr<int32_t>()[off] : t.ptr<int64_t>()[off];
}

}  // namespace

// args: see shared/kernel_args/cross_entropy.h (reduction, ignore_index, label_smoothing, logits (N, V),
//       targets (N), lse (N, out), out ((N) per-row losses for none, a scalar for sum/mean))
STELLAR_KERNEL("cpu/fused_cross_entropy", a) {
  const XentArgs args = read_xent_fwd_args(a, Device::CPU);
  const TDesc &logits = args.logits, &targets = args.targets, &out = args.out;
  const int reduction = args.reduction;
  const int64_t ignore = args.ignore, N = args.N, V = args.V;
  const float eps = args.eps;
  float* lp = args.lse.ptr<float>();
  const float* xp = logits.ptr<float>(); int64_t rs = logits.strides[0];
  std::vector<float> scratch(reduction == RED_NONE ? 0 : static_cast<size_t>(N));
  float* rp = reduction == RED_NONE ? out.ptr<float>() : scratch.data();
  bool smooth = eps != 0.f;
  parallel_for(N, std::max<int64_t>(1, 32768 / std::max<int64_t>(V, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t t = read_target(targets, r);
      if (t == ignore) { lp[r] = 0.f; rp[r] = 0.f; continue; }
      if (t < 0 || t >= V)
        throw xent_bad_target(t, V, true);
      const float* x = xp + r * rs;
      double sx = 0;
      float l = row_lse(x, V, smooth, &sx);
      lp[r] = l;
      rp[r] = xent_row_loss(l, x[t], sx, eps, V);
    }
  });
  if (reduction == RED_NONE) return;
  // Sequential in row order: deterministic whatever the thread count.
  double s = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < N; ++r) {
    s += rp[r];
    if (read_target(targets, r) != ignore) ++count;
  }
  // mean over zero non-ignored rows is 0 here (PyTorch gives NaN), so a fully masked batch is harmless
  out.ptr<float>()[0] = static_cast<float>(reduction == RED_MEAN ? (count ? s / static_cast<double>(count) : 0.0) : s);
}

// dlogits[r] = scale_r * (softmax(x_r) - (1 - eps) onehot(t_r) - eps / V), 0 for ignored rows;
// scale_r = g[r] (none), g (sum), g / count (mean).
// args: see shared/kernel_args/cross_entropy.h (reduction, ignore_index, label_smoothing, logits (N, V),
//       targets (N), lse (N), g (scalar, or (N) for none; any stride), dlogits (N, V contiguous))
STELLAR_KERNEL("cpu/fused_cross_entropy_backward", a) {
  const XentArgs args = read_xent_bwd_args(a, Device::CPU);
  const TDesc &logits = args.logits, &targets = args.targets;
  const int reduction = args.reduction;
  const int64_t ignore = args.ignore, N = args.N, V = args.V, gs = xent_grad_stride(args);
  const float eps = args.eps;
  const float* gp = args.g.ptr<float>();
  double scale = reduction == RED_NONE ? 0.0 : gp[0];
  if (reduction == RED_MEAN) {
    int64_t count = 0;
    for (int64_t r = 0; r < N; ++r) count += read_target(targets, r) != ignore;
    scale = count ? scale / static_cast<double>(count) : 0.0;
  }
  const float* xp = logits.ptr<float>(); int64_t rs = logits.strides[0];
  const float* lp = args.lse.ptr<float>(); float* dp = args.dl.ptr<float>();
  float smooth = static_cast<float>(static_cast<double>(eps) / static_cast<double>(V));
  parallel_for(N, std::max<int64_t>(1, 32768 / std::max<int64_t>(V, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* d = dp + r * V;
      int64_t t = read_target(targets, r);
      if (t == ignore) { for (int64_t c = 0; c < V; ++c) d[c] = 0.f; continue; }
      if (t < 0 || t >= V)
        throw xent_bad_target(t, V, false);
      float sc = static_cast<float>(reduction == RED_NONE ? gp[r * gs] : scale);
      softmax_grad_row(xp + r * rs, d, V, lp[r], sc, smooth);
      d[t] -= sc * (1.f - eps);
    }
  });
}

}  // namespace stellar
