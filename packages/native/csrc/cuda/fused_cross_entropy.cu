// CUDA twin of cpu/fused_cross_entropy.cc: softmax cross-entropy over (N, V) logits with integer
// targets, ignore_index and label smoothing, one block per row, with shared/fused_math.h's exp and
// row loss. sum/mean reductions add the row losses in row order on one thread (deterministic, as on
// the CPU). Out-of-range targets raise ERR_OUT_OF_BOUNDS through a device flag.
#include <string>
#include "../shared/fused_math.h"
#include "../shared/kernel_args/cross_entropy.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

struct MaxOp { __device__ float operator()(float a, float b) const { return a > b ? a : b; } };
struct SumOp { __device__ double operator()(double a, double b) const { return a + b; } };

struct Targets { const char* p; bool i64; int64_t stride; };
__device__ __forceinline__ int64_t target_at(const Targets& t, int64_t r) {
  return t.i64 ? reinterpret_cast<const int64_t*>(t.p)[r * t.stride] : static_cast<int64_t>(reinterpret_cast<const int32_t*>(t.p)[r * t.stride]);
}

// lse[r] and the row loss; ignored rows give 0 for both.
__global__ void xent_fwd_kernel(const float* x, int64_t rs, Targets tg, int64_t N, int64_t V, int64_t ignore, float eps,
                                float* lse, float* loss, long long* flag) {
  __shared__ float s_max[cu::kBlock];
  __shared__ double s_sum[cu::kBlock];
  for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
    const int64_t t = target_at(tg, r);
    if (t == ignore) { if (threadIdx.x == 0) { lse[r] = 0.f; loss[r] = 0.f; } continue; }  // uniform per block
    if (t < 0 || t >= V) { if (threadIdx.x == 0) { cu::raise_flag(flag, t); lse[r] = 0.f; loss[r] = 0.f; } continue; }
    const float* xr = x + r * rs;
    float m = -INFINITY;
    for (int64_t c = threadIdx.x; c < V; c += blockDim.x) m = xr[c] > m ? xr[c] : m;
    m = cu::block_reduce(m, s_max, MaxOp());
    double s = 0, sx = 0;
    if (m != -INFINITY)  // an all -inf row sums to 0 (lse -inf), as on the CPU
      for (int64_t c = threadIdx.x; c < V; c += blockDim.x) s += fused_expf(xr[c] - m);
    s = cu::block_reduce(s, s_sum, SumOp());
    if (eps != 0.f) {
      for (int64_t c = threadIdx.x; c < V; c += blockDim.x) sx += xr[c];
      sx = cu::block_reduce(sx, s_sum, SumOp());
    }
    if (threadIdx.x == 0) {
      const float l = s != s ? NAN : m + static_cast<float>(log(s));
      lse[r] = l;
      loss[r] = xent_row_loss(l, xr[t], sx, eps, V);
    }
  }
}

// out[0] = sum or mean of the row losses over non-ignored rows, added in row order.
__global__ void xent_reduce_kernel(const float* loss, Targets tg, int64_t N, int64_t ignore, bool mean, float* out) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double s = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < N; ++r) {
    s += loss[r];
    if (target_at(tg, r) != ignore) ++count;
  }
  out[0] = static_cast<float>(mean ? (count ? s / static_cast<double>(count) : 0.0) : s);
}

// scale for sum/mean: g (times 1 / count of non-ignored rows for mean), computed once on the device.
__global__ void xent_scale_kernel(const float* g, Targets tg, int64_t N, int64_t ignore, bool mean, double* scale) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double sc = g[0];
  if (mean) {
    int64_t count = 0;
    for (int64_t r = 0; r < N; ++r) count += target_at(tg, r) != ignore;
    sc = count ? sc / static_cast<double>(count) : 0.0;
  }
  *scale = sc;
}

// d = sc (exp(x - lse) - eps / V), minus sc (1 - eps) at the target; zero rows for ignored targets.
__global__ void xent_bwd_kernel(const float* x, int64_t rs, Targets tg, const float* lse, const float* g, int64_t gs,
                                const double* scale, int64_t N, int64_t V, int64_t ignore, float eps, float smooth,
                                float* d, long long* flag) {
  for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
    float* dr = d + r * V;
    const int64_t t = target_at(tg, r);
    const bool bad = t != ignore && (t < 0 || t >= V);
    if (t == ignore || bad) {
      if (bad && threadIdx.x == 0) cu::raise_flag(flag, t);
      for (int64_t c = threadIdx.x; c < V; c += blockDim.x) dr[c] = 0.f;
      continue;
    }
    const float sc = static_cast<float>(scale ? *scale : static_cast<double>(g[r * gs]));
    const float* xr = x + r * rs;
    const float l = lse[r];
    for (int64_t c = threadIdx.x; c < V; c += blockDim.x) {
      float v = sc * (fused_expf(xr[c] - l) - smooth);
      if (c == t) v -= sc * (1.f - eps);
      dr[c] = v;
    }
  }
}

Targets targets_of(const TDesc& t) { return {t.base, t.dtype == DType::I64, t.ndim ? t.strides[0] : 0}; }

void throw_if_bad_target(const cu::ErrorFlag& f, int64_t V) {
  long long t = 0;
  if (f.read(&t))
    throw xent_bad_target(t, V, true);
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, int64_t(1) << 20))); }

}  // namespace

// args: see shared/kernel_args/cross_entropy.h (as cpu/fused_cross_entropy)
STELLAR_KERNEL("cuda/fused_cross_entropy", a) {
  const XentArgs r = read_xent_fwd_args(a, Device::CUDA);
  const int64_t N = r.N, V = r.V;
  const int reduction = r.reduction;
  if (N == 0) {
    if (reduction != RED_NONE) STELLAR_CUDA_CHECK(cudaMemsetAsync(r.out.base, 0, sizeof(float)));
    return;
  }
  cu::Scratch rows(reduction == RED_NONE ? 1 : static_cast<size_t>(N) * sizeof(float));
  float* rp = reduction == RED_NONE ? r.out.ptr<float>() : rows.as<float>();
  cu::ErrorFlag flag;
  Targets tg = targets_of(r.targets);
  STELLAR_LAUNCH(row_blocks(N), cu::kBlock, xent_fwd_kernel)(r.logits.ptr<float>(), r.logits.strides[0], tg, N, V, r.ignore, r.eps,
                                                             r.lse.ptr<float>(), rp, flag.ptr());
  cu::launched("cuda/fused_cross_entropy");
  if (reduction != RED_NONE) {
    STELLAR_LAUNCH(1, 1, xent_reduce_kernel)(rp, tg, N, r.ignore, reduction == RED_MEAN, r.out.ptr<float>());
    cu::launched("cuda/fused_cross_entropy");
  }
  throw_if_bad_target(flag, V);
}

// dlogits[r] = scale_r * (softmax(x_r) - (1 - eps) onehot(t_r) - eps / V), 0 for ignored rows;
// scale_r = g[r] (none), g (sum), g / count (mean).
// args: see shared/kernel_args/cross_entropy.h (as cpu/fused_cross_entropy_backward)
STELLAR_KERNEL("cuda/fused_cross_entropy_backward", a) {
  const XentArgs r = read_xent_bwd_args(a, Device::CUDA);
  const int64_t N = r.N, V = r.V;
  const int reduction = r.reduction;
  if (N == 0) return;
  Targets tg = targets_of(r.targets);
  cu::Scratch scale(sizeof(double));
  if (reduction != RED_NONE) {
    STELLAR_LAUNCH(1, 1, xent_scale_kernel)(r.g.ptr<float>(), tg, N, r.ignore, reduction == RED_MEAN, scale.as<double>());
    cu::launched("cuda/fused_cross_entropy_backward");
  }
  float smooth = static_cast<float>(static_cast<double>(r.eps) / static_cast<double>(V));
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(row_blocks(N), cu::kBlock, xent_bwd_kernel)(r.logits.ptr<float>(), r.logits.strides[0], tg, r.lse.ptr<float>(), r.g.ptr<float>(),
                                                             xent_grad_stride(r), reduction == RED_NONE ? nullptr : scale.as<double>(), N, V,
                                                             r.ignore, r.eps, smooth, r.dl.ptr<float>(), flag.ptr());
  cu::launched("cuda/fused_cross_entropy_backward");
  long long t = 0;
  if (flag.read(&t)) throw xent_bad_target(t, V, false);
}

}  // namespace stellar
