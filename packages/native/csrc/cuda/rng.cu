// CUDA twins of cpu/rng.cc: Philox streams (uniform, normal, bernoulli) and multinomial sampling.
// Element i uses the same Philox counter as on the CPU (shared/random_math.h), so a seed draws the
// same numbers on either device.
#include "../shared/kernel_args/rng.h"
#include "../shared/random_math.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

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

// args: see shared/kernel_args/rng.h (as cpu/rng)
STELLAR_KERNEL("cuda/rng", a) {
  const RngArgs r = read_rng_args(a, Device::CUDA);
  if (r.y.numel == 0) return;
  STELLAR_LAUNCH(cu::blocks_for(r.y.numel), cu::kBlock, rng_kernel)(r.y.ptr<float>(), r.y.numel, r.dist, r.p0, r.p1, r.seed, r.offset);
  cu::launched("cuda/rng");
}

// One draw per row of non-negative weights (R, V) -> int64 (R, n), with replacement.
// args: see shared/kernel_args/rng.h (as cpu/multinomial)
STELLAR_KERNEL("cuda/multinomial", a) {
  const MultinomialArgs m = read_multinomial_args(a, Device::CUDA);
  const int64_t R = m.R, V = m.V;
  if (R == 0) return;
  cu::Scratch cdf(static_cast<size_t>(R * V) * sizeof(double));
  cu::ErrorFlag flag;
  STELLAR_LAUNCH(static_cast<unsigned>(std::min<int64_t>(R, int64_t(1) << 20)), cu::kBlock, multinomial_kernel)(
      m.p.ptr<float>(), R, V, m.n, m.seed, m.offset, cdf.as<double>(), m.out.ptr<int64_t>(), flag.ptr());
  cu::launched("cuda/multinomial");
  long long what = 0;
  if (flag.read(&what)) {
    if (what == BAD_WEIGHT) throw Error("multinomial: weights must be finite and non-negative");
    throw Error("multinomial: a row of weights sums to zero");
  }
}

}  // namespace stellar
