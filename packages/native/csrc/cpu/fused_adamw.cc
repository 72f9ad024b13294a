// Multi-tensor AdamW (PyTorch semantics, decoupled weight decay) in one call: every parameter's
// elements are treated as one concatenated range and split across the pool, updating p, m, v in place.
#include <algorithm>
#include <vector>
#include "../core/registry.h"
#include "../core/simd.h"
#include "../core/threadpool.h"
#include "../shared/kernel_args/adamw.h"

namespace stellar {
namespace {

STELLAR_MULTIVERSION void adamw_span(float* p, const float* g, float* m, float* v, int64_t n, float decay, const AdamWConsts& k) {
  const AdamWConsts kk = k;  // a local copy lets the vectorizer keep the constants in registers
  for (int64_t i = 0; i < n; ++i) adamw_update(p + i, g[i], m + i, v + i, decay, kk);
}

}  // namespace

// args: see shared/kernel_args/adamw.h (lr, beta1, beta2, eps, step, maximize, count, then per tensor
//       weight_decay, param, grad, exp_avg, exp_avg_sq)
STELLAR_KERNEL("cpu/fused_adamw", a) {
  const AdamwArgs r = read_adamw_args(a, Device::CPU);
  const std::vector<AdamwTensor>& groups = r.tensors;
  std::vector<int64_t> start;  // start of each tensor in the concatenated element range
  int64_t total = 0;
  for (const AdamwTensor& G : groups) {
    start.push_back(total);
    total += G.n;
  }
  parallel_for(total, 16384, [&](int64_t b, int64_t e) {
    // first tensor overlapping [b, e)
    size_t gi = static_cast<size_t>(std::upper_bound(start.begin(), start.end(), b) - start.begin()) - 1;
    for (int64_t pos = b; pos < e; ++gi) {
      const AdamwTensor& G = groups[gi];
      int64_t off = pos - start[gi];
      int64_t n = std::min(G.n - off, e - pos);
      adamw_span(G.p + off, G.g + off, G.m + off, G.v + off, n, G.decay, r.k);
      pos += n;
    }
  });
}

}  // namespace stellar
