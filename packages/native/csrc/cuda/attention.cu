// CUDA twin of cpu/attention/: scaled-dot-product attention with causal (KV-cache offset), key-padding
// and segment (packed samples) masks and grouped KV heads, forward and backward, using
// shared/attention_math.h for the visibility rule and the row finalisation. A plain first version, not a tuned flash kernel: one block
// per query row (forward, dQ) or key row (dK, dV) walks the other side in chunks, recomputing scores;
// nothing of size T x S is stored, and dK / dV are reduced without atomics (deterministic).
#include <string>
#include "../shared/attention_math.h"
#include "../shared/kernel_args/attention.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

constexpr int kThreads = 128;       // threads per row block; also the key / query chunk length
constexpr int kMaxDPerThread = 4;   // output accumulators per thread: head dims up to 512

using View4 = AttnView4;
using Attn = AttnProblem;  // passed by value to the kernels

__device__ __forceinline__ bool visible(const Attn& a, int64_t b, int64_t i, int64_t j) {
  if (a.causal && j >= attn_key_end(i, a.T, a.S)) return false;
  if (a.seg && attn_seg(a, b, j) != attn_seg(a, b, a.S - a.T + i)) return false;  // another packed sample
  return !a.mask || a.mask[b * a.ms0 + j * a.ms1];
}

// Dot product of row (b, h, i) of x with row (b, kh, j) of y over the head dim.
__device__ __forceinline__ float dot_rows(const View4& x, int64_t b, int64_t h, int64_t i, const View4& y, int64_t kh, int64_t j, int64_t D) {
  const float* xr = x.p + b * x.s[0] + h * x.s[1] + i * x.s[2];
  const float* yr = y.p + b * y.s[0] + kh * y.s[1] + j * y.s[2];
  float s = 0.f;
  for (int64_t d = 0; d < D; ++d) s += xr[d * x.s[3]] * yr[d * y.s[3]];
  return s;
}

__device__ __forceinline__ float at(const View4& x, int64_t b, int64_t h, int64_t i, int64_t d) {
  return x.p[b * x.s[0] + h * x.s[1] + i * x.s[2] + d * x.s[3]];
}

// Keys [0, key_end) can be visible to query i (causal: the ones not in its future).
__device__ __forceinline__ int64_t key_end(const Attn& a, int64_t i) {
  return a.causal ? cu::imin(a.S, cu::imax(0, attn_key_end(i, a.T, a.S))) : a.S;
}

// acc[q] += sum_jj w[jj] x[b, h, c0 + jj, d] over a chunk of n rows (weights in shared memory), for the
// head dims d = threadIdx.x + q * kThreads this thread owns.
__device__ __forceinline__ void accumulate_chunk(float* acc, const float* w, int64_t n, const View4& x, int64_t b,
                                                 int64_t h, int64_t c0, int64_t D) {
  for (int q = 0; q < kMaxDPerThread; ++q) {
    const int64_t d = threadIdx.x + q * kThreads;
    if (d >= D) break;
    float s = 0.f;
    for (int64_t jj = 0; jj < n; ++jj) s += w[jj] * at(x, b, h, c0 + jj, d);
    acc[q] += s;
  }
}

// out[d] = acc[q] * scale for the head dims this thread owns.
__device__ __forceinline__ void store_row(float* out, const float* acc, float scale, int64_t D) {
  for (int q = 0; q < kMaxDPerThread; ++q) {
    const int64_t d = threadIdx.x + q * kThreads;
    if (d < D) out[d] = acc[q] * scale;
  }
}

struct MaxOp { __device__ float operator()(float a, float b) const { return a > b ? a : b; } };
struct SumOp { __device__ float operator()(float a, float b) const { return a + b; } };

__global__ void attn_fwd_kernel(Attn a, float* o, float* lse) {
  __shared__ float sh[kThreads];
  __shared__ float p[kThreads];
  const int t = threadIdx.x;
  const float c2 = a.scale * kAttnLog2e;  // scores in base 2
  for (int64_t row = blockIdx.x; row < a.B * a.Hq * a.T; row += gridDim.x) {
    const int64_t i = row % a.T, h = (row / a.T) % a.Hq, b = row / (a.T * a.Hq), kvh = h / a.group;
    const int64_t kend = key_end(a, i);
    // pass 1: running max and sum per thread, merged over the block
    float m = -INFINITY, l = 0.f;
    for (int64_t j = t; j < kend; j += kThreads) {
      if (!visible(a, b, i, j)) continue;
      const float s = dot_rows(a.q, b, h, i, a.k, kvh, j, a.D) * c2;
      if (s > m) { l = l * exp2f(m - s) + 1.f; m = s; }
      else l += exp2f(s - m);
    }
    const float M = cu::block_reduce(m, sh, MaxOp());
    const float L = cu::block_reduce(m == -INFINITY ? 0.f : l * exp2f(m - M), sh, SumOp());
    // pass 2: o = sum_j p_j v_j over key chunks, p_j recomputed into shared memory
    float acc[kMaxDPerThread] = {0.f, 0.f, 0.f, 0.f};
    if (L > 0.f) {  // uniform over the block
      for (int64_t c0 = 0; c0 < kend; c0 += kThreads) {
        const int64_t j = c0 + t;
        p[t] = j < kend && visible(a, b, i, j) ? exp2f(dot_rows(a.q, b, h, i, a.k, kvh, j, a.D) * c2 - M) : 0.f;
        __syncthreads();
        accumulate_chunk(acc, p, cu::imin(kThreads, kend - c0), a.v, b, kvh, c0, a.D);
        __syncthreads();
      }
    }
    store_row(o + row * a.D, acc, attn_out_scale(L), a.D);
    if (t == 0) lse[row] = attn_row_lse(M, L);
  }
}

// dQ for one query row: dS_j = P_j (dO . v_j - delta), dQ = scale sum_j dS_j k_j; also writes delta.
__global__ void attn_dq_kernel(Attn a, const float* o, const float* lse, View4 dout, float* dq, float* delta_out) {
  __shared__ float sh[kThreads];
  __shared__ float ds[kThreads];
  const int t = threadIdx.x;
  const float c2 = a.scale * kAttnLog2e;
  for (int64_t row = blockIdx.x; row < a.B * a.Hq * a.T; row += gridDim.x) {
    const int64_t i = row % a.T, h = (row / a.T) % a.Hq, b = row / (a.T * a.Hq), kvh = h / a.group;
    float part = 0.f;
    for (int64_t d = t; d < a.D; d += kThreads) part += at(dout, b, h, i, d) * o[row * a.D + d];
    const float delta = cu::block_reduce(part, sh, SumOp());
    if (t == 0) delta_out[row] = delta;
    const float lse2 = lse[row] * kAttnLog2e;  // +inf for a fully masked row: every P is 0
    const int64_t kend = key_end(a, i);
    float acc[kMaxDPerThread] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t c0 = 0; c0 < kend; c0 += kThreads) {
      const int64_t j = c0 + t;
      float g = 0.f;
      if (j < kend && visible(a, b, i, j) && lse2 != INFINITY) {
        const float pj = exp2f(dot_rows(a.q, b, h, i, a.k, kvh, j, a.D) * c2 - lse2);
        g = pj * (dot_rows(dout, b, h, i, a.v, kvh, j, a.D) - delta);
      }
      ds[t] = g;
      __syncthreads();
      accumulate_chunk(acc, ds, cu::imin(kThreads, kend - c0), a.k, b, kvh, c0, a.D);
      __syncthreads();
    }
    store_row(dq + row * a.D, acc, a.scale, a.D);
  }
}

// dK, dV for one key row j of one KV head: sums over every query row of the head group that sees j.
__global__ void attn_dkv_kernel(Attn a, const float* lse, const float* delta, View4 dout, float* dk, float* dv) {
  __shared__ float ps[kThreads];
  __shared__ float ds[kThreads];
  const int t = threadIdx.x;
  const float c2 = a.scale * kAttnLog2e;
  const int64_t nq = a.group * a.T;  // query rows of the group, head-major
  for (int64_t row = blockIdx.x; row < a.B * a.Hkv * a.S; row += gridDim.x) {
    const int64_t j = row % a.S, kvh = (row / a.S) % a.Hkv, b = row / (a.S * a.Hkv);
    float gk[kMaxDPerThread] = {0.f, 0.f, 0.f, 0.f}, gv[kMaxDPerThread] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t c0 = 0; c0 < nq; c0 += kThreads) {
      const int64_t qi = c0 + t;
      float pv = 0.f, g = 0.f;
      if (qi < nq) {
        const int64_t h = kvh * a.group + qi / a.T, i = qi % a.T, qrow = (b * a.Hq + h) * a.T + i;
        const float lse2 = lse[qrow] * kAttnLog2e;
        if (visible(a, b, i, j) && lse2 != INFINITY) {
          pv = exp2f(dot_rows(a.q, b, h, i, a.k, kvh, j, a.D) * c2 - lse2);
          g = pv * (dot_rows(dout, b, h, i, a.v, kvh, j, a.D) - delta[qrow]);
        }
      }
      ps[t] = pv;
      ds[t] = g;
      __syncthreads();
      const int64_t n = cu::imin(kThreads, nq - c0);
      for (int q = 0; q < kMaxDPerThread; ++q) {
        const int64_t d = t + q * kThreads;
        if (d >= a.D) break;
        float sv = 0.f, sk = 0.f;
        for (int64_t r = 0; r < n; ++r) {
          const int64_t qr = c0 + r, h = kvh * a.group + qr / a.T, i = qr % a.T;
          if (ps[r] == 0.f && ds[r] == 0.f) continue;
          sv += ps[r] * at(dout, b, h, i, d);
          sk += ds[r] * at(a.q, b, h, i, d);
        }
        gv[q] += sv;
        gk[q] += sk;
      }
      __syncthreads();
    }
    store_row(dk + row * a.D, gk, a.scale, a.D);
    store_row(dv + row * a.D, gv, 1.f, a.D);
  }
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, int64_t(1) << 20))); }

// The kernels keep kMaxDPerThread accumulators per thread: head dims up to 512.
void check_head_dim(const Attn& a) {
  STELLAR_CHECK(a.D <= kThreads * kMaxDPerThread, "attention: the CUDA kernel supports head dims up to 512");
}

}  // namespace

// Forward. args: see shared/kernel_args/attention.h (as cpu/attention_fwd).
STELLAR_KERNEL("cuda/attention_fwd", r) {
  const AttnFwdArgs f = read_attn_fwd_args(r, Device::CUDA);
  const Attn& a = f.a;
  check_head_dim(a);
  const int64_t rows = a.B * a.Hq * a.T;
  if (rows == 0) return;
  STELLAR_LAUNCH(row_blocks(rows), kThreads, attn_fwd_kernel)(a, f.o, f.lse);
  cu::launched("cuda/attention_fwd");
}

// Backward. args: see shared/kernel_args/attention.h (as cpu/attention_bwd).
STELLAR_KERNEL("cuda/attention_bwd", r) {
  const AttnBwdArgs b = read_attn_bwd_args(r, Device::CUDA);
  const Attn& a = b.a;
  const AttnGrads& g = b.g;
  check_head_dim(a);
  const int64_t qrows = a.B * a.Hq * a.T, krows = a.B * a.Hkv * a.S;
  cu::Scratch delta(static_cast<size_t>(std::max<int64_t>(qrows, 1)) * sizeof(float));
  if (qrows > 0) {
    STELLAR_LAUNCH(row_blocks(qrows), kThreads, attn_dq_kernel)(a, g.o, g.lse, g.dout, g.dq, delta.as<float>());
    cu::launched("cuda/attention_bwd");
  }
  if (krows > 0) {
    STELLAR_LAUNCH(row_blocks(krows), kThreads, attn_dkv_kernel)(a, g.lse, delta.as<float>(), g.dout, g.dk, g.dv);
    cu::launched("cuda/attention_bwd");
  }
}

}  // namespace stellar
