// Arguments of cpu/fused_adamw and cuda/fused_adamw, decoded and checked once on the host for both.
#pragma once
#include <cmath>
#include <string>
#include <vector>
#include "../fused_math.h"
#include "device.h"

namespace stellar {

// One non-empty parameter: p, m, v updated in place from g; decay = 1 - lr * weight_decay.
struct AdamwTensor { float* p; const float* g; float* m; float* v; float decay; int64_t n; };

struct AdamwArgs {
  std::vector<AdamwTensor> tensors;  // empty parameters are left out
  AdamWConsts k;
};

inline void check_adamw_tensor(const TDesc& t, Device dev, int64_t n, int64_t k, const char* what) {
  std::string where = std::string("adamw: ") + what + " of tensor " + std::to_string(k);
  if (dev == Device::CUDA) STELLAR_CHECK(t.device == Device::CUDA, where + " must live on the CUDA device");
  STELLAR_CHECK(t.dtype == DType::F32, where + " must be float32, got " + dtype_name(t.dtype));
  STELLAR_CHECK(t.contiguous(), where + " must be contiguous");
  STELLAR_CHECK(t.numel == n, where + " has " + std::to_string(t.numel) + " elements, the parameter has " + std::to_string(n));
}

// args: lr, beta1, beta2, eps, step (>= 1), maximize, count, then per tensor:
//       weight_decay, param, grad, exp_avg, exp_avg_sq (all contiguous float32, same size).
// Every argument is read and checked before the caller updates anything.
inline AdamwArgs read_adamw_args(ArgReader& a, Device dev) {
  double lr = a.f(), beta1 = a.f(), beta2 = a.f(), eps = a.f(), step = a.f();
  bool maximize = a.b();
  int64_t count = a.i();
  STELLAR_CHECK(step >= 1, "adamw: step must be >= 1");
  STELLAR_CHECK(count >= 0, "adamw: negative tensor count");
  AdamwArgs r;
  for (int64_t k = 0; k < count; ++k) {
    double wd = a.f();
    TDesc p = a.t(), g = a.t(), m = a.t(), v = a.t();
    check_adamw_tensor(p, dev, p.numel, k, "param");
    check_adamw_tensor(g, dev, p.numel, k, "grad");
    check_adamw_tensor(m, dev, p.numel, k, "exp_avg");
    check_adamw_tensor(v, dev, p.numel, k, "exp_avg_sq");
    if (p.numel == 0) continue;
    r.tensors.push_back({p.ptr<float>(), g.ptr<float>(), m.ptr<float>(), v.ptr<float>(), static_cast<float>(1.0 - lr * wd), p.numel});
  }
  // per-step constants in double, rounded to float once (as PyTorch's Python scalars are)
  r.k.beta1 = static_cast<float>(beta1);
  r.k.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  r.k.beta2 = static_cast<float>(beta2);
  r.k.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  r.k.eps = static_cast<float>(eps);
  r.k.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, step)));
  r.k.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, step)));
  r.k.maximize = maximize;
  return r;
}

}  // namespace stellar
