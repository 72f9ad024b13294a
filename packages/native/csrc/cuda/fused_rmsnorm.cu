// CUDA twin of cpu/fused_rmsnorm.cc: RMSNorm over the last dim (fp32) and its backward. One block per
// row; the weight gradient is a column reduction with a fixed thread-to-row assignment and a fixed
// merge order, so it is deterministic like the CPU's (though not bit-identical to it).
#include <cmath>
#include "cuda_common.cuh"

namespace stellar {
namespace {

struct SumOp { __device__ double operator()(double a, double b) const { return a + b; } };

// rstd = 1 / sqrt(mean(x^2) + eps) in double, rounded once; y = (x rstd) w
__global__ void rmsnorm_kernel(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t C, double eps) {
  __shared__ double sh[cu::kBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * C;
    double s = 0;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) s += static_cast<double>(xr[i] * xr[i]);
    s = cu::block_reduce(s, sh, SumOp());
    const double ms = C ? s / static_cast<double>(C) : 0.0;
    const float rs = static_cast<float>(1.0 / sqrt(ms + eps));
    if (threadIdx.x == 0) rstd[r] = rs;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) y[r * C + i] = (xr[i] * rs) * w[i];
  }
}

// dx = r g w - (r^3 sum(g w x) / C) x
__global__ void rmsnorm_dx_kernel(const float* x, const float* w, const float* rstd, const float* g, float* dx, int64_t rows, int64_t C) {
  __shared__ double sh[cu::kBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * C;
    const float* gr = g + r * C;
    double dot = 0;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) dot += static_cast<double>(gr[i] * w[i] * xr[i]);
    dot = cu::block_reduce(dot, sh, SumOp());
    const float rs = rstd[r];
    const float coef = static_cast<float>(static_cast<double>(rs) * rs * rs * dot / static_cast<double>(C));
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) dx[r * C + i] = rs * gr[i] * w[i] - coef * xr[i];
  }
}

// dw[j] = sum_r g[r, j] (x[r, j] rstd[r]); block (32, 8): 32 columns, 8 row groups merged in a fixed order.
__global__ void rmsnorm_dw_kernel(const float* x, const float* rstd, const float* g, float* dw, int64_t rows, int64_t C) {
  __shared__ double sh[cu::kBlock];
  const int tx = threadIdx.x, ty = threadIdx.y, X = blockDim.x, Y = blockDim.y;
  for (int64_t c0 = static_cast<int64_t>(blockIdx.x) * X; c0 < C; c0 += static_cast<int64_t>(gridDim.x) * X) {
    const int64_t j = c0 + tx;
    double s = 0;
    if (j < C)
      for (int64_t r = ty; r < rows; r += Y) s += static_cast<double>(g[r * C + j] * (x[r * C + j] * rstd[r]));
    sh[ty * X + tx] = s;
    __syncthreads();
    for (int k = Y / 2; k > 0; k >>= 1) {
      if (ty < k) sh[ty * X + tx] += sh[(ty + k) * X + tx];
      __syncthreads();
    }
    if (ty == 0 && j < C) dw[j] = static_cast<float>(sh[tx]);
    __syncthreads();
  }
}

void check(const TDesc& t, int64_t C, const char* what) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.contiguous(), std::string("fused_rmsnorm: ") + what + " must be contiguous float32");
  STELLAR_CHECK(t.ndim >= 1 && t.shape[t.ndim - 1] == C, std::string("fused_rmsnorm: ") + what + " has the wrong last dim");
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, int64_t(1) << 20))); }

}  // namespace

// args: eps, x (..., C), weight (C), y (..., C), rstd (rows)
STELLAR_KERNEL("cuda/fused_rmsnorm", a) {
  double eps = a.f();
  TDesc x = a.t(), w = a.t(), y = a.t(), rstd = a.t();
  cu::require_device("cuda/fused_rmsnorm", {&x, &w, &y, &rstd});
  STELLAR_CHECK(x.ndim >= 1, "fused_rmsnorm: scalar input");
  int64_t C = x.shape[x.ndim - 1], rows = C ? x.numel / C : 0;
  check(x, C, "x"); check(w, C, "weight"); check(y, C, "y");
  STELLAR_CHECK(w.numel == C, "fused_rmsnorm: weight must have C elements");
  STELLAR_CHECK(rstd.dtype == DType::F32 && rstd.contiguous() && rstd.numel == rows, "fused_rmsnorm: rstd must be (rows) float32");
  if (rows == 0) return;
  STELLAR_LAUNCH(row_blocks(rows), cu::kBlock, rmsnorm_kernel)(x.ptr<float>(), w.ptr<float>(), y.ptr<float>(), rstd.ptr<float>(), rows, C, eps);
  cu::launched("cuda/fused_rmsnorm");
}

// args: x (..., C), weight (C), rstd (rows), g (..., C), dx (..., C), dweight (C)
STELLAR_KERNEL("cuda/fused_rmsnorm_backward", a) {
  TDesc x = a.t(), w = a.t(), rstd = a.t(), g = a.t(), dx = a.t(), dw = a.t();
  cu::require_device("cuda/fused_rmsnorm_backward", {&x, &w, &rstd, &g, &dx, &dw});
  STELLAR_CHECK(x.ndim >= 1, "fused_rmsnorm_backward: scalar input");
  int64_t C = x.shape[x.ndim - 1], rows = C ? x.numel / C : 0;
  check(x, C, "x"); check(w, C, "weight"); check(g, C, "grad"); check(dx, C, "dx"); check(dw, C, "dweight");
  STELLAR_CHECK(g.numel == x.numel && dx.numel == x.numel, "fused_rmsnorm_backward: size mismatch");
  STELLAR_CHECK(rstd.dtype == DType::F32 && rstd.contiguous() && rstd.numel == rows, "fused_rmsnorm_backward: rstd must be (rows) float32");
  if (C == 0) return;
  if (rows > 0) {
    STELLAR_LAUNCH(row_blocks(rows), cu::kBlock, rmsnorm_dx_kernel)(x.ptr<float>(), w.ptr<float>(), rstd.ptr<float>(), g.ptr<float>(), dx.ptr<float>(), rows, C);
    cu::launched("cuda/fused_rmsnorm_backward");
  }
  STELLAR_LAUNCH(cu::blocks_for(C, 32), dim3(32, cu::kBlock / 32), rmsnorm_dw_kernel)(x.ptr<float>(), rstd.ptr<float>(), g.ptr<float>(), dw.ptr<float>(), rows, C);
  cu::launched("cuda/fused_rmsnorm_backward");
}

}  // namespace stellar
