// CUDA twin of cpu/gemm_w8.cc: C = A @ (scale * Wq)^T with int8 weight rows and per-row scales, the
// dequantization math of shared/kernel_args/gemm_w8.h. One thread per output: simple and correct, not
// tuned (decode GEMMs are bandwidth-bound; a warp-per-row layout would coalesce the Wq reads).
#include "../shared/kernel_args/gemm_w8.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

struct W8Dev {
  const float* a; const uint8_t* q; const float* scale; float* c;
  int64_t M, N, K, lda, ldq, ldc;
};

__global__ void gemm_w8_kernel(W8Dev g) {
  STELLAR_GRID_LOOP(i, g.M * g.N) {
    const int64_t m = i / g.N, n = i - m * g.N;
    const float* a = g.a + m * g.lda;
    const uint8_t* q = g.q + n * g.ldq;
    float s = 0.f;
    for (int64_t k = 0; k < g.K; ++k) s += a[k] * w8_value(q[k]);
    g.c[m * g.ldc + n] = w8_output(s, g.scale[n]);
  }
}

}  // namespace

// args: see shared/kernel_args/gemm_w8.h (as cpu/gemm_w8)
STELLAR_KERNEL("cuda/gemm_w8", a) {
  const GemmW8Args g = read_gemm_w8_args(a, Device::CUDA);
  if (g.M == 0 || g.N == 0) return;
  const W8Dev d{g.A.ptr<float>(), g.Wq.ptr<uint8_t>(), g.scale.ptr<float>(), g.C.ptr<float>(),
                g.M, g.N, g.K, g.A.strides[0], g.Wq.strides[0], g.C.strides[0]};
  STELLAR_LAUNCH(cu::blocks_for(g.M * g.N), cu::kBlock, gemm_w8_kernel)(d);
  cu::launched("cuda/gemm_w8");
}

}  // namespace stellar
