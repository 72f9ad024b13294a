// CUDA twin of cpu/attention.cc: scaled-dot-product attention with causal (KV-cache offset) and
// key-padding masks and grouped KV heads, forward and backward, using shared/attention_math.h for the
// visibility rule and the row finalisation. A plain first version, not a tuned flash kernel: one block
// per query row (forward, dQ) or key row (dK, dV) walks the other side in chunks, recomputing scores;
// nothing of size T x S is stored, and dK / dV are reduced without atomics (deterministic).
#include <string>
#include "../shared/attention_math.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

constexpr int kThreads = 128;       // threads per row block; also the key / query chunk length
constexpr int kMaxDPerThread = 4;   // output accumulators per thread: head dims up to 512

struct View4 { const float* p; int64_t s[4]; };

struct Attn {
  int64_t B, Hq, Hkv, T, S, D, group;
  float scale;
  bool causal;
  View4 q, k, v;
  const uint8_t* mask;  // (B, S) or null
  int64_t ms0, ms1;
};

__device__ __forceinline__ bool visible(const Attn& a, int64_t b, int64_t i, int64_t j) {
  if (a.causal && j >= attn_key_end(i, a.T, a.S)) return false;
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

struct MaxOp { __device__ float operator()(float a, float b) const { return a > b ? a : b; } };
struct SumOp { __device__ float operator()(float a, float b) const { return a + b; } };

__global__ void attn_fwd_kernel(Attn a, float* o, float* lse) {
  __shared__ float sh[kThreads];
  __shared__ float p[kThreads];
  const int t = threadIdx.x;
  const float c2 = a.scale * kAttnLog2e;  // scores in base 2
  for (int64_t row = blockIdx.x; row < a.B * a.Hq * a.T; row += gridDim.x) {
    const int64_t i = row % a.T, h = (row / a.T) % a.Hq, b = row / (a.T * a.Hq), kvh = h / a.group;
    const int64_t kend = a.causal ? cu::imin(a.S, cu::imax(0, attn_key_end(i, a.T, a.S))) : a.S;
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
        const int64_t n = cu::imin(kThreads, kend - c0);
        for (int q = 0; q < kMaxDPerThread; ++q) {
          const int64_t d = t + q * kThreads;
          if (d >= a.D) break;
          float s = 0.f;
          for (int64_t jj = 0; jj < n; ++jj) s += p[jj] * at(a.v, b, kvh, c0 + jj, d);
          acc[q] += s;
        }
        __syncthreads();
      }
    }
    const float sc = attn_out_scale(L);
    for (int q = 0; q < kMaxDPerThread; ++q) {
      const int64_t d = t + q * kThreads;
      if (d < a.D) o[row * a.D + d] = acc[q] * sc;
    }
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
    const int64_t kend = a.causal ? cu::imin(a.S, cu::imax(0, attn_key_end(i, a.T, a.S))) : a.S;
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
      const int64_t n = cu::imin(kThreads, kend - c0);
      for (int q = 0; q < kMaxDPerThread; ++q) {
        const int64_t d = t + q * kThreads;
        if (d >= a.D) break;
        float s = 0.f;
        for (int64_t jj = 0; jj < n; ++jj) s += ds[jj] * at(a.k, b, kvh, c0 + jj, d);
        acc[q] += s;
      }
      __syncthreads();
    }
    for (int q = 0; q < kMaxDPerThread; ++q) {
      const int64_t d = t + q * kThreads;
      if (d < a.D) dq[row * a.D + d] = acc[q] * a.scale;
    }
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
    for (int q = 0; q < kMaxDPerThread; ++q) {
      const int64_t d = t + q * kThreads;
      if (d < a.D) { dk[row * a.D + d] = gk[q] * a.scale; dv[row * a.D + d] = gv[q]; }
    }
  }
}

View4 view4(const TDesc& t, const char* name) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.ndim == 4, std::string("attention: ") + name + " must be a 4-D float32 tensor");
  STELLAR_CHECK(t.device == Device::CUDA, std::string("attention: ") + name + " must live on the CUDA device");
  return View4{t.ptr<float>(), {t.strides[0], t.strides[1], t.strides[2], t.strides[3]}};
}

// Reads causal, scale, has_mask, q, k, v[, mask] and checks the shapes (as cpu/attention.cc).
Attn read_problem(ArgReader& r) {
  Attn a{};
  a.causal = r.b();
  a.scale = static_cast<float>(r.f());
  bool has_mask = r.b();
  TDesc q = r.t(), k = r.t(), v = r.t();
  a.q = view4(q, "q"); a.k = view4(k, "k"); a.v = view4(v, "v");
  a.B = q.shape[0]; a.Hq = q.shape[1]; a.T = q.shape[2]; a.D = q.shape[3];
  a.Hkv = k.shape[1]; a.S = k.shape[2];
  STELLAR_CHECK(k.shape[0] == a.B && k.shape[3] == a.D, "attention: k must be (B, Hkv, S, D)");
  for (int d = 0; d < 4; ++d) STELLAR_CHECK(v.shape[d] == k.shape[d], "attention: v must have k's shape");
  STELLAR_CHECK(a.Hkv > 0 && a.Hq % a.Hkv == 0, "attention: query heads must be a multiple of KV heads");
  STELLAR_CHECK(a.D > 0, "attention: head dim must be positive");
  STELLAR_CHECK(a.D <= kThreads * kMaxDPerThread, "attention: the CUDA kernel supports head dims up to 512");
  a.group = a.Hq / a.Hkv;
  if (has_mask) {
    TDesc m = r.t();
    STELLAR_CHECK(m.dtype == DType::U8 && m.ndim == 2 && m.shape[0] == a.B && m.shape[1] == a.S,
                  "attention: key padding mask must be a (B, S) bool tensor");
    STELLAR_CHECK(m.device == Device::CUDA, "attention: mask must live on the CUDA device");
    a.mask = reinterpret_cast<const uint8_t*>(m.base);
    a.ms0 = m.strides[0]; a.ms1 = m.strides[1];
  }
  return a;
}

float* out_ptr(const TDesc& t, std::initializer_list<int64_t> shape, const char* name) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.contiguous() && t.ndim == static_cast<int>(shape.size()),
                std::string("attention: ") + name + " must be a contiguous float32 tensor");
  STELLAR_CHECK(t.device == Device::CUDA, std::string("attention: ") + name + " must live on the CUDA device");
  int d = 0;
  for (int64_t s : shape) STELLAR_CHECK(t.shape[d++] == s, std::string("attention: ") + name + " has the wrong shape");
  return t.ptr<float>();
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, int64_t(1) << 20))); }

}  // namespace

// Forward. args: causal, scale, has_mask, q (B, Hq, T, D), k (B, Hkv, S, D), v (B, Hkv, S, D),
// [mask (B, S) bool, 1 = attend, only when has_mask], o (B, Hq, T, D) contiguous, lse (B, Hq, T) contiguous.
STELLAR_KERNEL("cuda/attention_fwd", r) {
  Attn a = read_problem(r);
  TDesc o = r.t(), lse = r.t();
  float* op = out_ptr(o, {a.B, a.Hq, a.T, a.D}, "o");
  float* lp = out_ptr(lse, {a.B, a.Hq, a.T}, "lse");
  const int64_t rows = a.B * a.Hq * a.T;
  if (rows == 0) return;
  STELLAR_LAUNCH(row_blocks(rows), kThreads, attn_fwd_kernel)(a, op, lp);
  cu::launched("cuda/attention_fwd");
}

// Backward. args: causal, scale, has_mask, q, k, v, [mask] (as in the forward), o and lse (the
// forward's outputs), dout (B, Hq, T, D) any strides, then dq (B, Hq, T, D), dk, dv (B, Hkv, S, D),
// all contiguous and fully overwritten.
STELLAR_KERNEL("cuda/attention_bwd", r) {
  Attn a = read_problem(r);
  TDesc o = r.t(), lse = r.t(), dout = r.t(), dq = r.t(), dk = r.t(), dv = r.t();
  const float* op = out_ptr(o, {a.B, a.Hq, a.T, a.D}, "o");
  const float* lp = out_ptr(lse, {a.B, a.Hq, a.T}, "lse");
  View4 g = view4(dout, "dout");
  for (int d = 0; d < 4; ++d) STELLAR_CHECK(dout.shape[d] == o.shape[d], "attention: dout must have the output's shape");
  float* dqp = out_ptr(dq, {a.B, a.Hq, a.T, a.D}, "dq");
  float* dkp = out_ptr(dk, {a.B, a.Hkv, a.S, a.D}, "dk");
  float* dvp = out_ptr(dv, {a.B, a.Hkv, a.S, a.D}, "dv");
  const int64_t qrows = a.B * a.Hq * a.T, krows = a.B * a.Hkv * a.S;
  cu::Scratch delta(static_cast<size_t>(std::max<int64_t>(qrows, 1)) * sizeof(float));
  if (qrows > 0) {
    STELLAR_LAUNCH(row_blocks(qrows), kThreads, attn_dq_kernel)(a, op, lp, g, dqp, delta.as<float>());
    cu::launched("cuda/attention_bwd");
  }
  if (krows > 0) {
    STELLAR_LAUNCH(row_blocks(krows), kThreads, attn_dkv_kernel)(a, lp, delta.as<float>(), g, dkp, dvp);
    cu::launched("cuda/attention_bwd");
  }
}

}  // namespace stellar
