// CUDA twin of cpu/fused_swiglu.cc: y = silu(gate) * up over same-shaped strided views and its
// backward, with the per-element math of shared/fused_math.h.
#include "../shared/fused_math.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

void check(const TDesc& t, const TDesc& ref, const char* what) {
  STELLAR_CHECK(t.dtype == DType::F32, std::string("fused_swiglu: ") + what + " must be float32");
  STELLAR_CHECK(t.ndim == ref.ndim, std::string("fused_swiglu: ") + what + " has the wrong rank");
  for (int d = 0; d < t.ndim; ++d)
    STELLAR_CHECK(t.shape[d] == ref.shape[d], std::string("fused_swiglu: ") + what + " has the wrong shape");
}

struct SwigluF {
  const float* g; const float* u; float* y;
  __device__ void operator()(const int64_t* o) const { y[o[2]] = swiglu_fwd(g[o[0]], u[o[1]]); }
};
struct SwigluBwdF {
  const float* g; const float* u; const float* dy; float* dg; float* du;
  __device__ void operator()(const int64_t* o) const { swiglu_bwd(g[o[0]], u[o[1]], dy[o[2]], dg + o[3], du + o[4]); }
};

}  // namespace

// args: gate, up, y (all the same shape; any strides)
STELLAR_KERNEL("cuda/fused_swiglu", a) {
  TDesc gate = a.t(), up = a.t(), y = a.t();
  cu::require_device("cuda/fused_swiglu", {&gate, &up, &y});
  check(gate, y, "gate"); check(up, y, "up"); check(y, y, "y");
  cu::launch_map<3>("cuda/fused_swiglu", y, {&gate, &up, &y}, SwigluF{gate.ptr<float>(), up.ptr<float>(), y.ptr<float>()});
}

// args: gate, up, dy, dgate, dup (all the same shape; any strides)
STELLAR_KERNEL("cuda/fused_swiglu_backward", a) {
  TDesc gate = a.t(), up = a.t(), dy = a.t(), dgate = a.t(), dup = a.t();
  cu::require_device("cuda/fused_swiglu_backward", {&gate, &up, &dy, &dgate, &dup});
  check(gate, dgate, "gate"); check(up, dgate, "up"); check(dy, dgate, "dy"); check(dup, dgate, "dup"); check(dgate, dgate, "dgate");
  cu::launch_map<5>("cuda/fused_swiglu_backward", dgate, {&gate, &up, &dy, &dgate, &dup},
                    SwigluBwdF{gate.ptr<float>(), up.ptr<float>(), dy.ptr<float>(), dgate.ptr<float>(), dup.ptr<float>()});
}

}  // namespace stellar
