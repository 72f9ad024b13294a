// CUDA twin of cpu/fused_adamw.cc: AdamW (PyTorch semantics, decoupled weight decay) over a list of
// parameters in one call, updating p, m, v in place with shared/fused_math.h's adamw_update. The
// per-step constants are computed on the host exactly as on the CPU; one launch per tensor.
#include <cmath>
#include <vector>
#include "../shared/fused_math.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, int64_t n, float decay, AdamWConsts k) {
  STELLAR_GRID_LOOP(i, n) adamw_update(p + i, g[i], m + i, v + i, decay, k);
}

void check(const TDesc& t, int64_t n, int64_t k, const char* what) {
  std::string where = std::string("adamw: ") + what + " of tensor " + std::to_string(k);
  STELLAR_CHECK(t.device == Device::CUDA, where + " must live on the CUDA device");
  STELLAR_CHECK(t.dtype == DType::F32, where + " must be float32, got " + dtype_name(t.dtype));
  STELLAR_CHECK(t.contiguous(), where + " must be contiguous");
  STELLAR_CHECK(t.numel == n, where + " has " + std::to_string(t.numel) + " elements, the parameter has " + std::to_string(n));
}

struct Group { float* p; const float* g; float* m; float* v; float decay; int64_t n; };

}  // namespace

// args: lr, beta1, beta2, eps, step (>= 1), maximize, count, then per tensor:
//       weight_decay, param, grad, exp_avg, exp_avg_sq (all contiguous float32, same size)
STELLAR_KERNEL("cuda/fused_adamw", a) {
  double lr = a.f(), beta1 = a.f(), beta2 = a.f(), eps = a.f(), step = a.f();
  bool maximize = a.b();
  int64_t count = a.i();
  STELLAR_CHECK(step >= 1, "adamw: step must be >= 1");
  STELLAR_CHECK(count >= 0, "adamw: negative tensor count");
  std::vector<Group> groups;  // every argument is read and checked before anything is updated
  for (int64_t k = 0; k < count; ++k) {
    double wd = a.f();
    TDesc p = a.t(), g = a.t(), m = a.t(), v = a.t();
    check(p, p.numel, k, "param"); check(g, p.numel, k, "grad"); check(m, p.numel, k, "exp_avg"); check(v, p.numel, k, "exp_avg_sq");
    if (p.numel == 0) continue;
    groups.push_back({p.ptr<float>(), g.ptr<float>(), m.ptr<float>(), v.ptr<float>(), static_cast<float>(1.0 - lr * wd), p.numel});
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
  for (const Group& G : groups) {
    STELLAR_LAUNCH(cu::blocks_for(G.n), cu::kBlock, adamw_kernel)(G.p, G.g, G.m, G.v, G.n, G.decay, k);
    cu::launched("cuda/fused_adamw");
  }
}

}  // namespace stellar
