// CUDA twin of cpu/fused_cross_entropy.cc: softmax cross-entropy over (N, V) logits with integer
// targets, ignore_index and label smoothing, one block per row, with shared/fused_math.h's exp and
// row loss. sum/mean reductions add the row losses in row order on one thread (deterministic, as on
// the CPU). Out-of-range targets raise ERR_OUT_OF_BOUNDS through a device flag.
#include <string>
#include "../shared/fused_math.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

enum Reduction : int { RED_NONE = 0, RED_SUM = 1, RED_MEAN = 2 };

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

void check_inputs(const TDesc& logits, const TDesc& targets, const char* what) {
  STELLAR_CHECK(logits.dtype == DType::F32 && logits.ndim == 2, std::string(what) + ": logits must be (N, V) float32");
  STELLAR_CHECK(logits.shape[1] <= 1 || logits.strides[1] == 1, std::string(what) + ": logits rows must have unit stride");
  STELLAR_CHECK(targets.dtype == DType::I32 || targets.dtype == DType::I64, std::string(what) + ": targets must be int32 or int64");
  STELLAR_CHECK(targets.ndim == 1 && targets.shape[0] == logits.shape[0], std::string(what) + ": targets must be (N)");
}

void check_vec(const TDesc& t, int64_t n, const char* what) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.contiguous() && t.numel == n, std::string(what) + " must be a contiguous float32 vector");
}

void throw_if_bad_target(const cu::ErrorFlag& f, int64_t V) {
  long long t = 0;
  if (f.read(&t))
    throw Error("cross_entropy: target " + std::to_string(t) + " is out of range [0, " + std::to_string(V) + ") and is not ignore_index",
                "ERR_OUT_OF_BOUNDS");
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, int64_t(1) << 20))); }

}  // namespace

// args: reduction (0 none, 1 sum, 2 mean), ignore_index, label_smoothing, logits (N, V), targets (N),
//       lse (N, out), out ((N) per-row losses for none, a scalar for sum/mean)
STELLAR_KERNEL("cuda/fused_cross_entropy", a) {
  int reduction = static_cast<int>(a.i());
  int64_t ignore = a.i();
  float eps = static_cast<float>(a.f());
  TDesc logits = a.t(), targets = a.t(), lse = a.t(), out = a.t();
  cu::require_device("cuda/fused_cross_entropy", {&logits, &targets, &lse, &out});
  check_inputs(logits, targets, "fused_cross_entropy");
  int64_t N = logits.shape[0], V = logits.shape[1];
  check_vec(lse, N, "fused_cross_entropy: lse");
  check_vec(out, reduction == RED_NONE ? N : 1, "fused_cross_entropy: output");
  if (N == 0) {
    if (reduction != RED_NONE) STELLAR_CUDA_CHECK(cudaMemsetAsync(out.base, 0, sizeof(float)));
    return;
  }
  cu::Scratch rows(reduction == RED_NONE ? 1 : static_cast<size_t>(N) * sizeof(float));
  float* rp = reduction == RED_NONE ? out.ptr<float>() : rows.as<float>();
  cu::ErrorFlag flag;
  Targets tg = targets_of(targets);
  STELLAR_LAUNCH(row_blocks(N), cu::kBlock, xent_fwd_kernel)(logits.ptr<float>(), logits.strides[0], tg, N, V, ignore, eps,
                                                             lse.ptr<float>(), rp, flag.ptr());
  cu::launched("cuda/fused_cross_entropy");
  if (reduction != RED_NONE) {
    STELLAR_LAUNCH(1, 1, xent_reduce_kernel)(rp, tg, N, ignore, reduction == RED_MEAN, out.ptr<float>());
    cu::launched("cuda/fused_cross_entropy");
  }
  throw_if_bad_target(flag, V);
}

// dlogits[r] = scale_r * (softmax(x_r) - (1 - eps) onehot(t_r) - eps / V), 0 for ignored rows;
// scale_r = g[r] (none), g (sum), g / count (mean).
// args: reduction, ignore_index, label_smoothing, logits (N, V), targets (N), lse (N),
//       g (scalar, or (N) for none; any stride), dlogits (N, V contiguous)
STELLAR_KERNEL("cuda/fused_cross_entropy_backward", a) {
  int reduction = static_cast<int>(a.i());
  int64_t ignore = a.i();
  float eps = static_cast<float>(a.f());
  TDesc logits = a.t(), targets = a.t(), lse = a.t(), g = a.t(), dl = a.t();
  cu::require_device("cuda/fused_cross_entropy_backward", {&logits, &targets, &lse, &g, &dl});
  check_inputs(logits, targets, "fused_cross_entropy_backward");
  int64_t N = logits.shape[0], V = logits.shape[1];
  check_vec(lse, N, "fused_cross_entropy_backward: lse");
  STELLAR_CHECK(dl.dtype == DType::F32 && dl.contiguous() && dl.numel == N * V, "fused_cross_entropy_backward: dlogits must be contiguous (N, V)");
  STELLAR_CHECK(g.dtype == DType::F32 && g.numel == (reduction == RED_NONE ? N : 1), "fused_cross_entropy_backward: bad gradient");
  if (N == 0) return;
  int64_t gs = reduction == RED_NONE && g.ndim ? g.strides[0] : 0;
  Targets tg = targets_of(targets);
  cu::Scratch scale(sizeof(double));
  if (reduction != RED_NONE) {
    STELLAR_LAUNCH(1, 1, xent_scale_kernel)(g.ptr<float>(), tg, N, ignore, reduction == RED_MEAN, scale.as<double>());
    cu::launched("cuda/fused_cross_entropy_backward");
  }
  float smooth = static_cast<float>(static_cast<double>(eps) / static_cast<double>(V));
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(row_blocks(N), cu::kBlock, xent_bwd_kernel)(logits.ptr<float>(), logits.strides[0], tg, lse.ptr<float>(), g.ptr<float>(), gs,
                                                             reduction == RED_NONE ? nullptr : scale.as<double>(), N, V, ignore, eps, smooth,
                                                             dl.ptr<float>(), flag.ptr());
  cu::launched("cuda/fused_cross_entropy_backward");
  long long t = 0;
  if (flag.read(&t))
    throw Error("cross_entropy: target " + std::to_string(t) + " is out of range [0, " + std::to_string(V) + ")", "ERR_OUT_OF_BOUNDS");
}

}  // namespace stellar
