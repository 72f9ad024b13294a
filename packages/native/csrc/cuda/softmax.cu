// CUDA twins of cpu/softmax.cc: softmax / log-softmax over the last dim of contiguous rows and their
// backward, one block per row, finishing each row with the math of shared/softmax_math.h.
#include "../shared/softmax_math.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

struct MaxOp { __device__ float operator()(float a, float b) const { return a > b ? a : b; } };
struct SumOp { __device__ double operator()(double a, double b) const { return a + b; } };

__global__ void softmax_kernel(const float* x, float* y, int64_t rows, int64_t n, bool log) {
  __shared__ float s_max[cu::kBlock];
  __shared__ double s_sum[cu::kBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = xr[i] > m ? xr[i] : m;  // NaNs are skipped, as on the CPU
    m = cu::block_reduce(m, s_max, MaxOp());
    if (softmax_row_masked(m)) {  // uniform over the block: m is the block-wide max
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = softmax_masked_value(log);
      continue;
    }
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += softmax_exp(xr[i], m);
    s = cu::block_reduce(s, s_sum, SumOp());
    if (log) {
      float ls = logsoftmax_lse(m, s);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] - ls;
    } else {
      float inv = softmax_inv(s);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = softmax_exp(xr[i], m) * inv;
    }
  }
}

__global__ void softmax_backward_kernel(const float* y, const float* g, float* gx, int64_t rows, int64_t n, bool log) {
  __shared__ double s_sum[cu::kBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* yr = y + r * n;
    const float* gr = g + r * n;
    float* o = gx + r * n;
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += softmax_bwd_term(log, gr[i], yr[i]);
    s = cu::block_reduce(s, s_sum, SumOp());
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) o[i] = softmax_bwd(log, yr[i], gr[i], s);
  }
}

void check_rows(const TDesc& t, int64_t n, const char* what) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.contiguous(), std::string(what) + ": expects contiguous float32");
  STELLAR_CHECK(t.ndim >= 1 && t.shape[t.ndim - 1] == n, std::string(what) + ": last dim mismatch");
}

// Threads per row: a power of two covering short rows without idling most of a 256-thread block.
int row_threads(int64_t n) {
  int t = 32;
  while (t < cu::kBlock && t < n) t *= 2;
  return t;
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(std::min<int64_t>(rows, int64_t(1) << 20)); }

}  // namespace

// args: log(0/1), x, y
STELLAR_KERNEL("cuda/softmax", a) {
  bool log = a.b();
  TDesc x = a.t(), y = a.t();
  cu::require_device("cuda/softmax", {&x, &y});
  STELLAR_CHECK(x.ndim >= 1, "softmax: scalar input");
  int64_t n = x.shape[x.ndim - 1], rows = n ? x.numel / n : 0;
  check_rows(x, n, "softmax"); check_rows(y, n, "softmax");
  if (rows == 0) return;
  STELLAR_LAUNCH(row_blocks(rows), row_threads(n), softmax_kernel)(x.ptr<float>(), y.ptr<float>(), rows, n, log);
  cu::launched("cuda/softmax");
}

// softmax:     gx = y * (g - sum(g * y))
// log-softmax: gx = g - exp(y) * sum(g)
// args: log, y, g, gx
STELLAR_KERNEL("cuda/softmax_backward", a) {
  bool log = a.b();
  TDesc y = a.t(), g = a.t(), gx = a.t();
  cu::require_device("cuda/softmax_backward", {&y, &g, &gx});
  STELLAR_CHECK(y.ndim >= 1, "softmax_backward: scalar input");
  int64_t n = y.shape[y.ndim - 1], rows = n ? y.numel / n : 0;
  check_rows(y, n, "softmax_backward"); check_rows(g, n, "softmax_backward"); check_rows(gx, n, "softmax_backward");
  if (rows == 0) return;
  STELLAR_LAUNCH(row_blocks(rows), row_threads(n), softmax_backward_kernel)(y.ptr<float>(), g.ptr<float>(), gx.ptr<float>(), rows, n, log);
  cu::launched("cuda/softmax_backward");
}

}  // namespace stellar
