// CUDA twin of cpu/reduce.cc: reductions over trailing dims (sum, mean, max, min, argmax, argmin,
// logsumexp). Each output is reduced by a group of threads (threadIdx.y) whose partial results merge
// with the order-independent rules of shared/reduce_math.h, so ties and NaNs resolve as on the CPU.
#include "../shared/kernel_args/reduce.h"
#include "../shared/reduce_math.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

struct ReduceParams {
  int op;
  int64_t O, R;           // outputs, reduced elements per output
  cu::DevIter<1> outer;   // kept dims -> start of each output's slice
  cu::DevIter<1> inner;   // reduced dims -> offset within the slice
  const float* x;
  float* yf;
  int64_t* yi;
};

// Block (X, Y): X outputs per block (threadIdx.x), Y threads per output (threadIdx.y); X * Y == kBlock.
__global__ void reduce_kernel(ReduceParams p) {
  __shared__ double s_sum[cu::kBlock];
  __shared__ float s_best[cu::kBlock];
  __shared__ long long s_idx[cu::kBlock];
  const int X = blockDim.x, Y = blockDim.y, tx = threadIdx.x, ty = threadIdx.y, slot = ty * X + tx;
  const bool is_min = reduce_is_min(p.op), is_sum = reduce_is_sum(p.op), lse = p.op == R_LOGSUMEXP;
  for (int64_t first = static_cast<int64_t>(blockIdx.x) * X; first < p.O; first += static_cast<int64_t>(gridDim.x) * X) {
    const int64_t o = first + tx;
    const bool live = o < p.O;
    int64_t ooff[1] = {0};
    if (live) p.outer.offsets(o, ooff);
    const float* xs = p.x + ooff[0];

    double acc = 0;
    float best = reduce_init(p.op);
    long long bi = kNoIndex;
    if (live) {
      for (int64_t r = ty; r < p.R; r += Y) {
        int64_t io[1];
        p.inner.offsets(r, io);
        float v = xs[io[0]];
        if (is_sum) acc += v;
        else if (reduce_prefer(is_min, v, r, best, bi)) { best = v; bi = r; }
      }
    }
    s_sum[slot] = acc; s_best[slot] = best; s_idx[slot] = bi;
    __syncthreads();
    for (int s = Y / 2; s > 0; s >>= 1) {
      if (ty < s) {
        int other = slot + s * X;
        s_sum[slot] += s_sum[other];
        if (reduce_prefer(is_min, s_best[other], s_idx[other], s_best[slot], s_idx[slot])) {
          s_best[slot] = s_best[other]; s_idx[slot] = s_idx[other];
        }
      }
      __syncthreads();
    }
    acc = s_sum[tx]; best = s_best[tx]; bi = s_idx[tx];
    __syncthreads();

    if (lse) {  // second pass: sum of exp(x - max); op is uniform over the block, so the syncs are too
      const bool pass = lse_passthrough(best);
      double se = 0;
      if (live && !pass) {
        for (int64_t r = ty; r < p.R; r += Y) {
          int64_t io[1];
          p.inner.offsets(r, io);
          se += exp(static_cast<double>(xs[io[0]] - best));
        }
      }
      s_sum[slot] = se;
      __syncthreads();
      for (int s = Y / 2; s > 0; s >>= 1) {
        if (ty < s) s_sum[slot] += s_sum[slot + s * X];
        __syncthreads();
      }
      acc = s_sum[tx];
      __syncthreads();
    }

    if (live && ty == 0) {
      switch (p.op) {
        case R_SUM: p.yf[o] = static_cast<float>(acc); break;
        case R_MEAN: p.yf[o] = reduce_mean(acc, p.R); break;
        case R_MAX: case R_MIN: p.yf[o] = best; break;
        case R_ARGMAX: case R_ARGMIN: p.yi[o] = bi; break;
        case R_LOGSUMEXP: p.yf[o] = lse_passthrough(best) ? best : lse_finish(best, acc); break;
      }
    }
  }
}

}  // namespace

// args: see shared/kernel_args/reduce.h (as cpu/reduce)
STELLAR_KERNEL("cuda/reduce", a) {
  const ReduceArgs r = read_reduce_args(a, Device::CUDA);
  const int64_t O = r.O, R = r.R;
  if (O == 0) return;
  ReduceParams p{r.op, O, R, cu::make_iter<1>(r.outer, {&r.outer}), cu::make_iter<1>(r.inner, {&r.inner}), r.x.ptr<float>(),
                 r.arg ? nullptr : r.y.ptr<float>(), r.arg ? r.y.ptr<int64_t>() : nullptr};

  // Kept dims contiguous and reduced dims not: neighbouring threads take neighbouring outputs (coalesced
  // column sums, e.g. bias gradients). Otherwise one group per output sized to the reduced length.
  bool inner_contig = p.inner.ndim == 1 && (p.inner.strides[0][0] == 1 || R == 1);
  bool columns = !inner_contig && p.outer.ndim == 1 && p.outer.strides[0][0] == 1 && O > 1;
  int Y = 8;
  if (!columns) { Y = 1; while (Y < cu::kBlock && Y < R) Y *= 2; }
  int X = cu::kBlock / Y;
  STELLAR_LAUNCH(cu::blocks_for(O, X), dim3(X, Y), reduce_kernel)(p);
  cu::launched("cuda/reduce");
}

}  // namespace stellar
