// Random streams from Philox (uniform, normal, dropout masks) and multinomial sampling.
#include <cmath>
#include <vector>
#include "../core/registry.h"
#include "../core/threadpool.h"
#include "../shared/philox.h"
#include "../shared/kernel_args/rng.h"
#include "../shared/random_math.h"

namespace stellar {

// Element i depends only on (seed, offset, i), so cuda/rng draws the same numbers.
// args: see shared/kernel_args/rng.h (dist, p0, p1, seed, offset, y)
STELLAR_KERNEL("cpu/rng", a) {
  const RngArgs r = read_rng_args(a, Device::CPU);
  float* yp = r.y.ptr<float>();
  parallel_for(r.y.numel, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) yp[i] = rng_sample(r.dist, r.p0, r.p1, r.seed, r.offset, static_cast<uint64_t>(i));
  });
}

// One draw per row of non-negative weights (R, V) -> int64 (R, n), with replacement.
// args: see shared/kernel_args/rng.h (n, seed, offset, probs, out)
STELLAR_KERNEL("cpu/multinomial", a) {
  const MultinomialArgs m = read_multinomial_args(a, Device::CPU);
  const int64_t n = m.n, V = m.V;
  parallel_for(m.R, 16, [&](int64_t b, int64_t e) {
    std::vector<double> cdf(V);
    for (int64_t r = b; r < e; ++r) {
      const float* pr = m.p.ptr<float>() + r * V;
      double s = 0;
      for (int64_t v = 0; v < V; ++v) {
        if (!multinomial_weight_ok(pr[v])) throw Error("multinomial: weights must be finite and non-negative");
        s += pr[v]; cdf[v] = s;
      }
      if (!(s > 0)) throw Error("multinomial: a row of weights sums to zero");
      for (int64_t k = 0; k < n; ++k) {
        m.out.ptr<int64_t>()[r * n + k] = multinomial_pick(cdf.data(), pr, V, multinomial_target(m.seed, m.offset, r, n, k, s));
      }
    }
  });
}

}  // namespace stellar
