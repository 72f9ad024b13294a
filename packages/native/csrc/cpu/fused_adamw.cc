// Multi-tensor AdamW (PyTorch semantics, decoupled weight decay) in one call: every parameter's
// elements are treated as one concatenated range and split across the pool, updating p, m, v in place.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include "../core/registry.h"
#include "../core/simd.h"
#include "../core/threadpool.h"
#include "../shared/fused_math.h"

namespace stellar {
namespace {

struct Group { float* p; const float* g; float* m; float* v; float decay; int64_t n; };

STELLAR_MULTIVERSION void adamw_span(float* p, const float* g, float* m, float* v, int64_t n, float decay, const AdamWConsts& k) {
  const AdamWConsts kk = k;  // a local copy lets the vectorizer keep the constants in registers
  for (int64_t i = 0; i < n; ++i) adamw_update(p + i, g[i], m + i, v + i, decay, kk);
}

void check(const TDesc& t, int64_t n, size_t k, const char* what) {
  std::string where = std::string("adamw: ") + what + " of tensor " + std::to_string(k);
  STELLAR_CHECK(t.dtype == DType::F32, where + " must be float32, got " + dtype_name(t.dtype));
  STELLAR_CHECK(t.contiguous(), where + " must be contiguous");
  STELLAR_CHECK(t.numel == n, where + " has " + std::to_string(t.numel) + " elements, the parameter has " + std::to_string(n));
}

}  // namespace

// args: lr, beta1, beta2, eps, step (>= 1), maximize, count, then per tensor:
//       weight_decay, param, grad, exp_avg, exp_avg_sq (all contiguous float32, same size)
STELLAR_KERNEL("cpu/fused_adamw", a) {
  double lr = a.f(), beta1 = a.f(), beta2 = a.f(), eps = a.f(), step = a.f();
  bool maximize = a.b();
  int64_t count = a.i();
  STELLAR_CHECK(step >= 1, "adamw: step must be >= 1");
  STELLAR_CHECK(count >= 0, "adamw: negative tensor count");
  std::vector<Group> groups;
  std::vector<int64_t> start;  // start of each tensor in the concatenated element range
  int64_t total = 0;
  for (int64_t k = 0; k < count; ++k) {
    double wd = a.f();
    TDesc p = a.t(), g = a.t(), m = a.t(), v = a.t();
    check(p, p.numel, k, "param"); check(g, p.numel, k, "grad"); check(m, p.numel, k, "exp_avg"); check(v, p.numel, k, "exp_avg_sq");
    if (p.numel == 0) continue;
    groups.push_back({p.ptr<float>(), g.ptr<float>(), m.ptr<float>(), v.ptr<float>(), static_cast<float>(1.0 - lr * wd), p.numel});
    start.push_back(total);
    total += p.numel;
  }
  AdamWConsts k;
  k.beta1 = static_cast<float>(beta1);
  k.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  k.beta2 = static_cast<float>(beta2);
  k.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  k.eps = static_cast<float>(eps);
  k.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, step)));
  k.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, step)));
  k.maximize = maximize;
  parallel_for(total, 16384, [&](int64_t b, int64_t e) {
    // first tensor overlapping [b, e)
    size_t gi = static_cast<size_t>(std::upper_bound(start.begin(), start.end(), b) - start.begin()) - 1;
    for (int64_t pos = b; pos < e; ++gi) {
      const Group& G = groups[gi];
      int64_t off = pos - start[gi];
      int64_t n = std::min(G.n - off, e - pos);
      adamw_span(G.p + off, G.g + off, G.m + off, G.v + off, n, G.decay, k);
      pos += n;
    }
  });
}

}  // namespace stellar
