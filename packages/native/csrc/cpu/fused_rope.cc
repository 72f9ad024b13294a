// Fused rotary position embedding (Hugging Face rotate_half layout) with optional linear position
// scaling and XPos, computing cos/sin in double from integer position ids. The backward is the same
// kernel with the transposed rotation (the op is linear in x).
#include <vector>
#include "../core/registry.h"
#include "../core/simd.h"
#include "../core/threadpool.h"
#include "../shared/fused_math.h"
#include "../shared/kernel_args/rope.h"

namespace stellar {
namespace {

// y[:h] = x[:h] c - x[h:] s, y[h:] = x[h:] c + x[:h] s
STELLAR_MULTIVERSION void rope_row(const float* x, float* y, const float* c, const float* s, int64_t half) {
  const float* x2 = x + half;
  float* y2 = y + half;
  for (int64_t i = 0; i < half; ++i) rope_rotate(x[i], x2[i], c[i], s[i], y + i, y2 + i);
}

double read_pos(const TDesc& p, int64_t b, int64_t t) {
  int64_t off = b * p.strides[0] + t * p.strides[1];
  return p.dtype == DType::I32 ? static_cast<double>(p.ptr<int32_t>()[off]) : static_cast<double>(p.ptr<int64_t>()[off]);
}

}  // namespace

// args: see shared/kernel_args/rope.h (theta, linear_factor, xpos_scale_base, xpos_sign, inverse,
//       x (B, H, T, D), positions (B, T), y (B, H, T, D))
STELLAR_KERNEL("cpu/fused_rope", a) {
  const RopeArgs r = read_rope_args(a, Device::CPU);
  const TDesc &x = r.x, &pos = r.pos, &y = r.y;
  if (x.numel == 0) return;
  const int64_t B = r.B, H = r.H, T = r.T, D = r.D, half = r.half, P = r.P;
  const bool shared = r.shared;

  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) inv_freq[i] = rope_inv_freq(i, D, r.theta);
  // One (cos, sin) table row per distinct position row: T rows when positions are shared over B.
  std::vector<float> ct(static_cast<size_t>(P * half)), st(static_cast<size_t>(P * half));
  parallel_for(P, std::max<int64_t>(1, 1024 / std::max<int64_t>(half, 1)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      double ps = shared ? read_pos(pos, 0, p) : read_pos(pos, p / T, p % T);
      for (int64_t i = 0; i < half; ++i) {
        double sc = r.scale_base > 0 ? xpos_scale(i, D, ps, r.scale_base, r.sign) : 1.0;
        float c, s;
        rope_coeffs(ps / r.factor, inv_freq[i], sc, &c, &s);
        ct[p * half + i] = c;
        st[p * half + i] = r.inverse ? -s : s;
      }
    }
  });

  const float* xp = x.ptr<float>(); float* yp = y.ptr<float>();
  parallel_for(B * H * T, std::max<int64_t>(1, 16384 / D), [&](int64_t b0, int64_t e0) {
    for (int64_t r = b0; r < e0; ++r) {
      int64_t t = r % T, h = (r / T) % H, b = r / (T * H);
      int64_t p = shared ? t : b * T + t;
      rope_row(xp + b * x.strides[0] + h * x.strides[1] + t * x.strides[2],
               yp + b * y.strides[0] + h * y.strides[1] + t * y.strides[2],
               ct.data() + p * half, st.data() + p * half, half);
    }
  });
}

}  // namespace stellar
