// Random streams from Philox (uniform, normal, dropout masks) and multinomial sampling.
#include <cmath>
#include <vector>
#include "../core/registry.h"
#include "../core/threadpool.h"
#include "../shared/philox.h"
#include "../shared/random_math.h"

namespace stellar {
namespace {
uint64_t read_u64(ArgReader& a) {  // JS passes 64-bit values as two 32-bit halves (doubles are exact there)
  uint64_t hi = static_cast<uint64_t>(a.i()), lo = static_cast<uint64_t>(a.i());
  return (hi << 32) | lo;
}
}  // namespace

// args: dist, p0, p1, seed(hi, lo), offset(hi, lo), y (contiguous f32)
// uniform: [p0, p1); normal: mean p0, std p1; bernoulli: value p1 with probability p0, else 0.
STELLAR_KERNEL("cpu/rng", a) {
  int dist = static_cast<int>(a.i());
  float p0 = static_cast<float>(a.f()), p1 = static_cast<float>(a.f());
  uint64_t seed = read_u64(a), offset = read_u64(a);
  TDesc y = a.t();
  STELLAR_CHECK(y.dtype == DType::F32 && y.contiguous(), "rng: output must be contiguous float32");
  float* yp = y.ptr<float>();
  parallel_for(y.numel, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) yp[i] = rng_sample(dist, p0, p1, seed, offset, static_cast<uint64_t>(i));
  });
}

// One draw per row of non-negative weights (R, V) -> int64 (R, n), with replacement.
// args: n, seed(hi, lo), offset(hi, lo), probs, out
STELLAR_KERNEL("cpu/multinomial", a) {
  int64_t n = a.i();
  uint64_t seed = read_u64(a), offset = read_u64(a);
  TDesc p = a.t(), out = a.t();
  STELLAR_CHECK(p.dtype == DType::F32 && p.contiguous() && out.dtype == DType::I64 && out.contiguous(), "multinomial: bad views");
  int64_t V = p.shape[p.ndim - 1], R = V ? p.numel / V : 0;
  parallel_for(R, 16, [&](int64_t b, int64_t e) {
    std::vector<double> cdf(V);
    for (int64_t r = b; r < e; ++r) {
      const float* pr = p.ptr<float>() + r * V;
      double s = 0;
      for (int64_t v = 0; v < V; ++v) {
        if (!multinomial_weight_ok(pr[v])) throw Error("multinomial: weights must be finite and non-negative");
        s += pr[v]; cdf[v] = s;
      }
      if (!(s > 0)) throw Error("multinomial: a row of weights sums to zero");
      for (int64_t k = 0; k < n; ++k) {
        out.ptr<int64_t>()[r * n + k] = multinomial_pick(cdf.data(), pr, V, multinomial_target(seed, offset, r, n, k, s));
      }
    }
  });
}

}  // namespace stellar
