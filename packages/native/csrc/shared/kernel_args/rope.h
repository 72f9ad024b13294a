// Arguments of cpu/fused_rope and cuda/fused_rope, decoded and checked once on the host for both,
// plus the layout of the (position row, pair) cos/sin table both kernels build.
#pragma once
#include "device.h"

namespace stellar {

struct RopeArgs {
  double theta, factor, scale_base, sign;  // rotation uses pos / factor; scale_base 0 = no XPos
  bool inverse;                            // the transposed rotation (backward)
  TDesc x, pos, y;
  int64_t B, H, T, D, half;
  bool shared;  // positions shared over B (B == 1 or stride 0): one table row per t
  int64_t P;    // table rows: T when shared, else B * T
};

// args: theta, linear_factor, xpos_scale_base (0 = no XPos), xpos_sign (+1 query, -1 key),
//       inverse (0/1: backward), x (B, H, T, D; unit last stride),
//       positions (B, T) int32/int64 (stride 0 over B when shared), y (B, H, T, D; unit last stride)
inline RopeArgs read_rope_args(ArgReader& a, Device dev) {
  RopeArgs r;
  r.theta = a.f(); r.factor = a.f(); r.scale_base = a.f(); r.sign = a.f();
  r.inverse = a.b();
  r.x = a.t(); r.pos = a.t(); r.y = a.t();
  const TDesc &x = r.x, &pos = r.pos, &y = r.y;
  require_on(dev, "cuda/fused_rope", {&x, &pos, &y});
  STELLAR_CHECK(x.dtype == DType::F32 && y.dtype == DType::F32, "fused_rope: x must be float32");
  STELLAR_CHECK(x.ndim == 4 && y.ndim == 4, "fused_rope: x must be (B, H, T, D)");
  for (int d = 0; d < 4; ++d) STELLAR_CHECK(x.shape[d] == y.shape[d], "fused_rope: output shape mismatch");
  r.B = x.shape[0]; r.H = x.shape[1]; r.T = x.shape[2]; r.D = x.shape[3];
  STELLAR_CHECK(r.D % 2 == 0, "fused_rope: head dim must be even");
  STELLAR_CHECK(r.D <= 1 || (x.strides[3] == 1 && y.strides[3] == 1), "fused_rope: the head dim must have unit stride");
  STELLAR_CHECK(pos.dtype == DType::I32 || pos.dtype == DType::I64, "fused_rope: positions must be int32 or int64");
  STELLAR_CHECK(pos.ndim == 2 && pos.shape[0] == r.B && pos.shape[1] == r.T, "fused_rope: positions must be (B, T)");
  STELLAR_CHECK(r.theta > 0 && r.factor > 0, "fused_rope: theta and the scaling factor must be positive");
  r.half = r.D / 2;
  r.shared = r.B == 1 || pos.strides[0] == 0;
  r.P = r.shared ? r.T : r.B * r.T;
  return r;
}

}  // namespace stellar
