// Reductions over trailing dims: the JS side permutes reduced axes to the end (a free view), so
// the kernel sees (kept..., reduced...) and writes a contiguous output of the kept shape.
#include <cmath>
#include <limits>
#include "../core/registry.h"
#include "../core/simd.h"
#include "strided.h"
#include "../shared/kernel_args/reduce.h"
#include "../shared/reduce_math.h"

namespace stellar {
namespace {

STELLAR_MULTIVERSION float sum_contig(const float* x, int64_t n) {
  // 16 float lanes keep the loop vectorized; each block of 1024 is flushed into a double so the
  // rounding error does not grow with n.
  double s = 0;
  for (int64_t b = 0; b < n; b += 1024) {
    int64_t e = b + 1024 < n ? b + 1024 : n;
    float acc[16] = {0};
    int64_t i = b;
    for (; i + 16 <= e; i += 16)
      for (int l = 0; l < 16; ++l) acc[l] += x[i + l];
    double bs = 0;
    for (int l = 0; l < 16; ++l) bs += acc[l];
    for (; i < e; ++i) bs += x[i];
    s += bs;
  }
  return static_cast<float>(s);
}

STELLAR_MULTIVERSION void add_rows(float* acc, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}

}  // namespace

// args: see shared/kernel_args/reduce.h (op, nred, x, y)
STELLAR_KERNEL("cpu/reduce", a) {
  const ReduceArgs args = read_reduce_args(a, Device::CPU);
  const int op = args.op;
  const int64_t R = args.R, O = args.O;
  const TDesc &y = args.y, &inner = args.inner, &outer = args.outer;

  // The reduced part walked with coalesced strides.
  StridedIter<1> rit(inner, {&inner});

  const float* xp = args.x.ptr<float>();
  bool inner_contig = rit.ndim == 1 && (rit.inner_stride(0) == 1 || R == 1);

  // Sum/mean whose kept dims are contiguous in memory and reduced dims are outer: accumulate whole rows.
  StridedIter<1> oit(outer, {&outer});
  if ((op == R_SUM || op == R_MEAN) && !inner_contig && oit.ndim == 1 && oit.inner_stride(0) == 1 && O > 1) {
    float* yp = y.ptr<float>();
    int64_t cols_per_task = std::max<int64_t>(64, O / (4 * num_threads()) + 1);
    parallel_for(O, cols_per_task, [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) yp[j] = 0.f;
      int64_t off[1];
      for (int64_t r = 0; r < rit.rows(); ++r) {
        rit.row_offsets(r, off);
        for (int64_t i = 0; i < rit.inner(); ++i) add_rows(yp + b, xp + off[0] + i * rit.inner_stride(0) + b, e - b);
      }
      if (op == R_MEAN) for (int64_t j = b; j < e; ++j) yp[j] /= static_cast<float>(R);
    });
    return;
  }

  parallel_for(O, std::max<int64_t>(1, 16384 / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const float* base = xp + outer.offset_of(o);
      double acc = 0;
      float best = 0; int64_t besti = 0;
      if (op == R_SUM || op == R_MEAN) {
        if (inner_contig) acc = sum_contig(base, R);
        else {
          int64_t off[1];
          for (int64_t r = 0; r < rit.rows(); ++r) {
            rit.row_offsets(r, off);
            for (int64_t i = 0; i < rit.inner(); ++i) acc += base[off[0] + i * rit.inner_stride(0)];
          }
        }
        y.ptr<float>()[o] = op == R_MEAN ? reduce_mean(acc, R) : static_cast<float>(acc);
        continue;
      }
      // max/min/arg*/logsumexp: walk in flat order so ties resolve to the first index (like PyTorch).
      int64_t idx = 0;
      int64_t off[1];
      best = reduce_init(op); besti = kNoIndex;
      const bool is_min = reduce_is_min(op);  // shared rule: NaN first, then the extreme, ties to the lowest index
      for (int64_t r = 0; r < rit.rows(); ++r) {
        rit.row_offsets(r, off);
        for (int64_t i = 0; i < rit.inner(); ++i, ++idx) {
          float v = base[off[0] + i * rit.inner_stride(0)];
          if (reduce_prefer(is_min, v, idx, best, besti)) { best = v; besti = idx; }
        }
      }
      if (op == R_ARGMAX || op == R_ARGMIN) { y.ptr<int64_t>()[o] = besti; continue; }
      if (op == R_MAX || op == R_MIN) { y.ptr<float>()[o] = best; continue; }
      // logsumexp = m + log(sum(exp(x - m)))
      if (lse_passthrough(best)) { y.ptr<float>()[o] = best; continue; }
      double s = 0;
      for (int64_t r = 0; r < rit.rows(); ++r) {
        rit.row_offsets(r, off);
        for (int64_t i = 0; i < rit.inner(); ++i) s += std::exp(static_cast<double>(base[off[0] + i * rit.inner_stride(0)] - best));
      }
      y.ptr<float>()[o] = lse_finish(best, s);
    }
  });
}

}  // namespace stellar
