// CUDA twins of cpu/rng.cc: Philox streams (uniform, normal, bernoulli) and multinomial sampling.
// Element i uses the same Philox counter as on the CPU (shared/random_math.h), so a seed draws the
// same numbers on either device.
#include "../shared/random_math.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

uint64_t read_u64(ArgReader& a) {  // JS passes 64-bit values as two 32-bit halves (doubles are exact there)
  uint64_t hi = static_cast<uint64_t>(a.i()), lo = static_cast<uint64_t>(a.i());
  return (hi << 32) | lo;
}

__global__ void rng_kernel(float* y, int64_t n, int dist, float p0, float p1, uint64_t seed, uint64_t offset) {
  STELLAR_GRID_LOOP(i, n) y[i] = rng_sample(dist, p0, p1, seed, offset, static_cast<uint64_t>(i));
}

enum : long long { BAD_WEIGHT = 1, ZERO_ROW = 2 };

// One block per row: an inclusive prefix sum of the weights (in double, chunk by chunk) into cdf,
// then each thread draws some of the row's n samples by binary search.
__global__ void multinomial_kernel(const float* p, int64_t R, int64_t V, int64_t n, uint64_t seed, uint64_t offset,
                                   double* cdf, int64_t* out, long long* flag) {
  __shared__ double sh[cu::kBlock];
  __shared__ int bad;
  const int t = threadIdx.x, T = blockDim.x;
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* pr = p + r * V;
    double* cr = cdf + r * V;
    __syncthreads();  // everyone is done reading the previous row's flag
    if (t == 0) bad = 0;
    double carry = 0;
    __syncthreads();
    for (int64_t c0 = 0; c0 < V; c0 += T) {
      int64_t v = c0 + t;
      float w = v < V ? pr[v] : 0.f;
      if (v < V && !multinomial_weight_ok(w)) bad = 1;
      sh[t] = multinomial_weight_ok(w) ? static_cast<double>(w) : 0.0;
      __syncthreads();
      for (int off = 1; off < T; off <<= 1) {
        double add = t >= off ? sh[t - off] : 0.0;
        __syncthreads();
        sh[t] += add;
        __syncthreads();
      }
      if (v < V) cr[v] = carry + sh[t];
      carry += sh[T - 1];
      __syncthreads();
    }
    if (bad) { if (t == 0) cu::raise_flag(flag, BAD_WEIGHT); continue; }
    const double s = carry;
    if (!(s > 0)) { if (t == 0) cu::raise_flag(flag, ZERO_ROW); continue; }
    for (int64_t k = t; k < n; k += T)
      out[r * n + k] = multinomial_pick(cr, pr, V, multinomial_target(seed, offset, r, n, k, s));
  }
}

}  // namespace

// args: dist, p0, p1, seed(hi, lo), offset(hi, lo), y (contiguous f32)
// uniform: [p0, p1); normal: mean p0, std p1; bernoulli: value p1 with probability p0, else 0.
STELLAR_KERNEL("cuda/rng", a) {
  int dist = static_cast<int>(a.i());
  float p0 = static_cast<float>(a.f()), p1 = static_cast<float>(a.f());
  uint64_t seed = read_u64(a), offset = read_u64(a);
  TDesc y = a.t();
  cu::require_device("cuda/rng", {&y});
  STELLAR_CHECK(y.dtype == DType::F32 && y.contiguous(), "rng: output must be contiguous float32");
  if (y.numel == 0) return;
  STELLAR_LAUNCH(cu::blocks_for(y.numel), cu::kBlock, rng_kernel)(y.ptr<float>(), y.numel, dist, p0, p1, seed, offset);
  cu::launched("cuda/rng");
}

// One draw per row of non-negative weights (R, V) -> int64 (R, n), with replacement.
// args: n, seed(hi, lo), offset(hi, lo), probs, out
STELLAR_KERNEL("cuda/multinomial", a) {
  int64_t n = a.i();
  uint64_t seed = read_u64(a), offset = read_u64(a);
  TDesc p = a.t(), out = a.t();
  cu::require_device("cuda/multinomial", {&p, &out});
  STELLAR_CHECK(p.dtype == DType::F32 && p.contiguous() && out.dtype == DType::I64 && out.contiguous(), "multinomial: bad views");
  int64_t V = p.shape[p.ndim - 1], R = V ? p.numel / V : 0;
  if (R == 0) return;
  cu::Scratch cdf(static_cast<size_t>(R * V) * sizeof(double));
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(static_cast<unsigned>(std::min<int64_t>(R, int64_t(1) << 20)), cu::kBlock, multinomial_kernel)(
      p.ptr<float>(), R, V, n, seed, offset, cdf.as<double>(), out.ptr<int64_t>(), flag.ptr());
  cu::launched("cuda/multinomial");
  long long what = 0;
  if (flag.read(&what)) {
    if (what == BAD_WEIGHT) throw Error("multinomial: weights must be finite and non-negative");
    throw Error("multinomial: a row of weights sums to zero");
  }
}

}  // namespace stellar
