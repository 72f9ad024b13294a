// CUDA twin of cpu/fused_rope.cc: rotary position embedding (rotate_half layout) with linear position
// scaling and XPos. As on the CPU, a (position row, pair) table of cos/sin is computed first, in double
// through shared/fused_math.h, then every (b, h, t, pair) is rotated by it.
#include "../shared/fused_math.h"
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

// args: theta, linear_factor (rotation uses pos / factor), xpos_scale_base (0 = no XPos),
//       xpos_sign (+1 query, -1 key), inverse (0/1: backward), x (B, H, T, D; unit last stride),
//       positions (B, T) int32/int64 (stride 0 over B when shared), y (B, H, T, D; unit last stride)
STELLAR_KERNEL("cuda/fused_rope", a) {
  double theta = a.f(), factor = a.f(), scale_base = a.f(), sign = a.f();
  bool inverse = a.b();
  TDesc x = a.t(), pos = a.t(), y = a.t();
  cu::require_device("cuda/fused_rope", {&x, &pos, &y});
  STELLAR_CHECK(x.dtype == DType::F32 && y.dtype == DType::F32, "fused_rope: x must be float32");
  STELLAR_CHECK(x.ndim == 4 && y.ndim == 4, "fused_rope: x must be (B, H, T, D)");
  for (int d = 0; d < 4; ++d) STELLAR_CHECK(x.shape[d] == y.shape[d], "fused_rope: output shape mismatch");
  int64_t B = x.shape[0], H = x.shape[1], T = x.shape[2], D = x.shape[3];
  STELLAR_CHECK(D % 2 == 0, "fused_rope: head dim must be even");
  STELLAR_CHECK(D <= 1 || (x.strides[3] == 1 && y.strides[3] == 1), "fused_rope: the head dim must have unit stride");
  STELLAR_CHECK(pos.dtype == DType::I32 || pos.dtype == DType::I64, "fused_rope: positions must be int32 or int64");
  STELLAR_CHECK(pos.ndim == 2 && pos.shape[0] == B && pos.shape[1] == T, "fused_rope: positions must be (B, T)");
  STELLAR_CHECK(theta > 0 && factor > 0, "fused_rope: theta and the scaling factor must be positive");
  if (x.numel == 0) return;
  const int64_t half = D / 2;
  const bool shared = B == 1 || pos.strides[0] == 0;
  const int64_t P = shared ? T : B * T;
  cu::Scratch table(static_cast<size_t>(2 * P * half) * sizeof(float));
  float* ct = table.as<float>();
  float* st = ct + P * half;
  RopeTable tk{pos.base, pos.dtype == DType::I64, pos.strides[0], pos.strides[1], T, half, D, P, shared,
               theta, factor, scale_base, sign, inverse, ct, st};
  STELLAR_LAUNCH(cu::blocks_for(P * half), cu::kBlock, rope_table_kernel)(tk);
  cu::launched("cuda/fused_rope");
  RopeApply ak{x.ptr<float>(), y.ptr<float>(), {x.strides[0], x.strides[1], x.strides[2]},
               {y.strides[0], y.strides[1], y.strides[2]}, H, T, half, shared, ct, st};
  const int64_t total = B * H * T * half;
  STELLAR_LAUNCH(cu::blocks_for(total), cu::kBlock, rope_apply_kernel)(ak, total);
  cu::launched("cuda/fused_rope");
}

}  // namespace stellar
