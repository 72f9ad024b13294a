// CUDA twin of cpu/fused_rope.cc: rotary position embedding (rotate_half layout) with linear position
// scaling and XPos. As on the CPU, a (position row, pair) table of cos/sin is computed first, in double
// through shared/fused_math.h, then every (b, h, t, pair) is rotated by it.
#include "../shared/fused_math.h"
#include "../shared/kernel_args/rope.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

struct RopeTable {
  const char* pos; bool pos64; int64_t ps0, ps1;  // positions (B, T)
  int64_t T, half, D, P;
  bool shared;                                    // one row per t when positions are shared over B
  double theta, factor, scale_base, sign;
  bool inverse;
  float* ct; float* st;                           // (P, half)
};

__global__ void rope_table_kernel(RopeTable k) {
  STELLAR_GRID_LOOP(e, k.P * k.half) {
    const int64_t p = e / k.half, i = e - p * k.half;
    const int64_t b = k.shared ? 0 : p / k.T, t = k.shared ? p : p % k.T;
    const int64_t off = b * k.ps0 + t * k.ps1;
    const double ps = k.pos64 ? static_cast<double>(reinterpret_cast<const int64_t*>(k.pos)[off])
                              : static_cast<double>(reinterpret_cast<const int32_t*>(k.pos)[off]);
    const double sc = k.scale_base > 0 ? xpos_scale(i, k.D, ps, k.scale_base, k.sign) : 1.0;
    float c, s;
    rope_coeffs(ps / k.factor, rope_inv_freq(i, k.D, k.theta), sc, &c, &s);
    k.ct[e] = c;
    k.st[e] = k.inverse ? -s : s;
  }
}

struct RopeApply {
  const float* x; float* y;
  int64_t xs[3], ys[3];  // strides of b, h, t (the head dim is unit-stride)
  int64_t H, T, half;
  bool shared;
  const float* ct; const float* st;
};

__global__ void rope_apply_kernel(RopeApply k, int64_t total) {
  STELLAR_GRID_LOOP(e, total) {
    const int64_t i = e % k.half, r = e / k.half, t = r % k.T, h = (r / k.T) % k.H, b = r / (k.T * k.H);
    const int64_t p = k.shared ? t : b * k.T + t;
    const float* x = k.x + b * k.xs[0] + h * k.xs[1] + t * k.xs[2];
    float* y = k.y + b * k.ys[0] + h * k.ys[1] + t * k.ys[2];
    float y1, y2;
    rope_rotate(x[i], x[i + k.half], k.ct[p * k.half + i], k.st[p * k.half + i], &y1, &y2);
    y[i] = y1;
    y[i + k.half] = y2;
  }
}

}  // namespace

// args: see shared/kernel_args/rope.h (as cpu/fused_rope)
STELLAR_KERNEL("cuda/fused_rope", a) {
  const RopeArgs r = read_rope_args(a, Device::CUDA);
  const TDesc &x = r.x, &pos = r.pos, &y = r.y;
  if (x.numel == 0) return;
  const int64_t H = r.H, T = r.T, half = r.half, P = r.P;
  cu::Scratch table(static_cast<size_t>(2 * P * half) * sizeof(float));
  float* ct = table.as<float>();
  float* st = ct + P * half;
  RopeTable tk{pos.base, pos.dtype == DType::I64, pos.strides[0], pos.strides[1], T, half, r.D, P, r.shared,
               r.theta, r.factor, r.scale_base, r.sign, r.inverse, ct, st};
  STELLAR_LAUNCH(cu::blocks_for(P * half), cu::kBlock, rope_table_kernel)(tk);
  cu::launched("cuda/fused_rope");
  RopeApply ak{x.ptr<float>(), y.ptr<float>(), {x.strides[0], x.strides[1], x.strides[2]},
               {y.strides[0], y.strides[1], y.strides[2]}, H, T, half, r.shared, ct, st};
  const int64_t total = r.B * H * T * half;
  STELLAR_LAUNCH(cu::blocks_for(total), cu::kBlock, rope_apply_kernel)(ak, total);
  cu::launched("cuda/fused_rope");
}

}  // namespace stellar
