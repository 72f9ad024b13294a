// CUDA twin of cpu/fused_adamw.cc: AdamW (PyTorch semantics, decoupled weight decay) over a list of
// parameters in one call, updating p, m, v in place with shared/fused_math.h's adamw_update. The
// arguments and per-step constants come from shared/kernel_args/adamw.h, as on the CPU; one launch per tensor.
#include "../shared/kernel_args/adamw.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, int64_t n, float decay, AdamWConsts k) {
  STELLAR_GRID_LOOP(i, n) adamw_update(p + i, g[i], m + i, v + i, decay, k);
}

}  // namespace

// args: see shared/kernel_args/adamw.h (as cpu/fused_adamw)
STELLAR_KERNEL("cuda/fused_adamw", a) {
  const AdamwArgs r = read_adamw_args(a, Device::CUDA);
  for (const AdamwTensor& G : r.tensors) {
    STELLAR_LAUNCH(cu::blocks_for(G.n), cu::kBlock, adamw_kernel)(G.p, G.g, G.m, G.v, G.n, G.decay, r.k);
    cu::launched("cuda/fused_adamw");
  }
}

}  // namespace stellar
