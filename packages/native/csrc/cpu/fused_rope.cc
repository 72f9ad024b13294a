// Fused rotary position embedding (Hugging Face rotate_half layout) with optional linear position
// scaling and XPos, computing cos/sin in double from integer position ids. The backward is the same
// kernel with the transposed rotation (the op is linear in x).
#include <vector>
#include "../core/registry.h"
#include "../core/simd.h"
#include "../core/threadpool.h"
#include "../shared/fused_math.h"

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

// args: theta, linear_factor (rotation uses pos / factor), xpos_scale_base (0 = no XPos),
//       xpos_sign (+1 query, -1 key), inverse (0/1: backward), x (B, H, T, D; unit last stride),
//       positions (B, T) int32/int64 (stride 0 over B when shared), y (B, H, T, D; unit last stride)
STELLAR_KERNEL("cpu/fused_rope", a) {
  double theta = a.f(), factor = a.f(), scale_base = a.f(), sign = a.f();
  bool inverse = a.b();
  TDesc x = a.t(), pos = a.t(), y = a.t();
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
  int64_t half = D / 2;

  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) inv_freq[i] = rope_inv_freq(i, D, theta);
  // One (cos, sin) table row per distinct position row: T rows when positions are shared over B.
  bool shared = B == 1 || pos.strides[0] == 0;
  int64_t P = shared ? T : B * T;
  std::vector<float> ct(static_cast<size_t>(P * half)), st(static_cast<size_t>(P * half));
  parallel_for(P, std::max<int64_t>(1, 1024 / std::max<int64_t>(half, 1)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      double ps = shared ? read_pos(pos, 0, p) : read_pos(pos, p / T, p % T);
      for (int64_t i = 0; i < half; ++i) {
        double sc = scale_base > 0 ? xpos_scale(i, D, ps, scale_base, sign) : 1.0;
        float c, s;
        rope_coeffs(ps / factor, inv_freq[i], sc, &c, &s);
        ct[p * half + i] = c;
        st[p * half + i] = inverse ? -s : s;
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
