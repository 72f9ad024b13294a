// GEMM through the system BLAS (OpenBLAS): batched, strided, all transpose combinations, plus
// bf16 inputs with fp32 accumulation: cblas_sbgemm when the installed OpenBLAS exports it (looked up
// at run time: Debian's 0.3.21 declares it but is built without it), else bf16_gemm.h.
#include <cblas.h>
#include <dlfcn.h>
#include "../core/registry.h"
#include "../core/threadpool.h"
#include "bf16_gemm.h"

namespace stellar {
namespace {

using SbgemmFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float,
                          const bfloat16*, blasint, const bfloat16*, blasint, float, float*, blasint);

SbgemmFn find_sbgemm() {
  static SbgemmFn fn = reinterpret_cast<SbgemmFn>(dlsym(RTLD_DEFAULT, "cblas_sbgemm"));
  return fn;
}

// A (.., M, K) or its transpose, B (.., K, N) or its transpose, C (.., M, N). Batch dims are flattened by JS:
// each operand arrives as a 3-D view (batch, rows, cols) whose last dim is unit-stride or whose
// second-to-last is (a transposed matrix), so the BLAS leading dimension covers both cases.
struct MatView { bool trans; int64_t ld; int64_t bstride; };

MatView mat_view(const TDesc& t, const char* name) {
  STELLAR_CHECK(t.ndim == 3, std::string("gemm: ") + name + " must be 3-D (batch, rows, cols)");
  MatView v;
  v.bstride = t.strides[0];
  if (t.strides[2] == 1 || t.shape[2] == 1) { v.trans = false; v.ld = std::max<int64_t>(t.strides[1], std::max<int64_t>(t.shape[2], 1)); }
  else if (t.strides[1] == 1 || t.shape[1] == 1) { v.trans = true; v.ld = std::max<int64_t>(t.strides[2], std::max<int64_t>(t.shape[1], 1)); }
  else throw Error(std::string("gemm: ") + name + " needs a unit stride in one of its last two dims");
  return v;
}

}  // namespace

// C = alpha * A @ B + beta * C. args: alpha, beta, A, B, C
STELLAR_KERNEL("cpu/gemm", a) {
  float alpha = static_cast<float>(a.f()), beta = static_cast<float>(a.f());
  TDesc A = a.t(), B = a.t(), C = a.t();
  STELLAR_CHECK(C.ndim == 3 && C.strides[2] == 1, "gemm: C must be a row-major 3-D view");
  int64_t batch = C.shape[0], M = C.shape[1], N = C.shape[2], K = A.shape[2];
  STELLAR_CHECK(A.shape[1] == M && B.shape[1] == K && B.shape[2] == N, "gemm: shape mismatch");
  STELLAR_CHECK(A.shape[0] == batch && B.shape[0] == batch, "gemm: batch mismatch");
  MatView va = mat_view(A, "A"), vb = mat_view(B, "B");
  int64_t ldc = std::max<int64_t>(C.strides[1], std::max<int64_t>(N, 1));
  bool bf16 = A.dtype == DType::BF16;
  STELLAR_CHECK(A.dtype == B.dtype && (A.dtype == DType::F32 || bf16) && C.dtype == DType::F32,
                "gemm: inputs must both be float32 or both bfloat16, output float32");
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
      find_sbgemm()(CblasRowMajor, va.trans ? CblasTrans : CblasNoTrans, vb.trans ? CblasTrans : CblasNoTrans,
                   M, N, K, alpha, A.ptr<bfloat16>() + b * va.bstride, va.ld, B.ptr<bfloat16>() + b * vb.bstride, vb.ld,
                   beta, c, ldc);
    } else {
      cblas_sgemm(CblasRowMajor, va.trans ? CblasTrans : CblasNoTrans, vb.trans ? CblasTrans : CblasNoTrans,
                  M, N, K, alpha, A.ptr<float>() + b * va.bstride, va.ld, B.ptr<float>() + b * vb.bstride, vb.ld,
                  beta, c, ldc);
    }
  }
}

}  // namespace stellar
