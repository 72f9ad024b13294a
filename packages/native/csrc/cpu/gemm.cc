// GEMM through the system BLAS (OpenBLAS): batched, strided, all transpose combinations (fp32 split
// over our thread pool, see sgemm_pool.h; fp32 A @ W^T with few rows goes to gemm_small.h), plus
// bf16 inputs with fp32 accumulation: cblas_sbgemm when the installed OpenBLAS exports it (looked up
// at run time: Debian's 0.3.21 declares it but is built without it), else bf16_gemm.h.
#include <cblas.h>
#include <dlfcn.h>
#include <cstdlib>
#include "../core/registry.h"
#include "../core/threadpool.h"
#include "../shared/kernel_args/gemm.h"
#include "bf16_gemm.h"
#include "gemm_small.h"
#include "sgemm_pool.h"

namespace stellar {
namespace {

using SbgemmFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float,
                          const bfloat16*, blasint, const bfloat16*, blasint, float, float*, blasint);

SbgemmFn find_sbgemm() {
  static SbgemmFn fn = reinterpret_cast<SbgemmFn>(dlsym(RTLD_DEFAULT, "cblas_sbgemm"));
  return fn;
}

// STELLAR_SMALL_GEMM=0 sends every fp32 GEMM to BLAS (checked per call: tests and benches compare both).
bool small_gemm_allowed() {
  const char* e = std::getenv("STELLAR_SMALL_GEMM");
  return !(e && e[0] == '0');
}

}  // namespace

// C = alpha * A @ B + beta * C. args: alpha, beta, A, B, C (see shared/kernel_args/gemm.h)
STELLAR_KERNEL("cpu/gemm", a) {
  const GemmArgs g = read_gemm_args(a, Device::CPU);
  const TDesc &A = g.A, &B = g.B, &C = g.C;
  const MatView &va = g.va, &vb = g.vb;
  const int64_t batch = g.batch, M = g.M, N = g.N, K = g.K, ldc = g.ldc;
  const float alpha = g.alpha, beta = g.beta;
  const bool bf16 = g.bf16;
  if (M == 0 || N == 0) return;
  for (int64_t b = 0; b < batch; ++b) {
    float* c = C.ptr<float>() + b * C.strides[0];
    if (K == 0) {  // BLAS would leave C untouched; the math says C = beta * C
      for (int64_t i = 0; i < M; ++i) for (int64_t j = 0; j < N; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
      continue;
    }
    if (bf16 && !find_sbgemm()) {
      bf16_gemm(va.trans, vb.trans, M, N, K, alpha, A.ptr<uint16_t>() + b * va.bstride, va.ld,
                B.ptr<uint16_t>() + b * vb.bstride, vb.ld, beta, c, ldc);
    } else if (bf16) {
      // sgemm_pool leaves OpenBLAS single-threaded; sbgemm has no split of ours, so it threads itself
      if (openblas_get_num_threads() != num_threads()) openblas_set_num_threads(num_threads());
      find_sbgemm()(CblasRowMajor, va.trans ? CblasTrans : CblasNoTrans, vb.trans ? CblasTrans : CblasNoTrans,
                   M, N, K, alpha, A.ptr<bfloat16>() + b * va.bstride, va.ld, B.ptr<bfloat16>() + b * vb.bstride, vb.ld,
                   beta, c, ldc);
    } else if (vb.trans && M <= kSmallGemmMaxM && small_gemm_allowed()) {
      // x @ W^T with few rows of x (decode): stream W's rows once instead of packing them for BLAS
      gemm_small_f32(va.trans, M, N, K, alpha, A.ptr<float>() + b * va.bstride, va.ld,
                     B.ptr<float>() + b * vb.bstride, vb.ld, beta, c, ldc);
    } else {
      sgemm_pool(va.trans, vb.trans, M, N, K, alpha, A.ptr<float>() + b * va.bstride, va.ld,
                 B.ptr<float>() + b * vb.bstride, vb.ld, beta, c, ldc);
    }
  }
}

}  // namespace stellar
