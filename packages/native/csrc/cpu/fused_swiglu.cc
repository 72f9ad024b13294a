// Fused SwiGLU y = silu(gate) * up over same-shaped strided views, and its backward (dgate, dup).
#include "../core/registry.h"
#include "../core/simd.h"
#include "../shared/fused_math.h"
#include "strided.h"

namespace stellar {
namespace {

STELLAR_MULTIVERSION void swiglu_row(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = swiglu_fwd(gate[i], up[i]);
}

STELLAR_MULTIVERSION void swiglu_bwd_row(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t n) {
  for (int64_t i = 0; i < n; ++i) swiglu_bwd(gate[i], up[i], dy[i], dgate + i, dup + i);
}

void check(const TDesc& t, const TDesc& ref, const char* what) {
  STELLAR_CHECK(t.dtype == DType::F32, std::string("fused_swiglu: ") + what + " must be float32");
  STELLAR_CHECK(t.ndim == ref.ndim, std::string("fused_swiglu: ") + what + " has the wrong rank");
  for (int d = 0; d < t.ndim; ++d)
    STELLAR_CHECK(t.shape[d] == ref.shape[d], std::string("fused_swiglu: ") + what + " has the wrong shape");
}

}  // namespace

// args: gate, up, y (all the same shape; any strides)
STELLAR_KERNEL("cpu/fused_swiglu", a) {
  TDesc gate = a.t(), up = a.t(), y = a.t();
  check(gate, y, "gate"); check(up, y, "up"); check(y, y, "y");
  StridedIter<3> it(y, {&gate, &up, &y});
  const float* gp = gate.ptr<float>(); const float* upp = up.ptr<float>(); float* yp = y.ptr<float>();
  int64_t s0 = it.inner_stride(0), s1 = it.inner_stride(1), s2 = it.inner_stride(2);
  it.for_each_row([&](const int64_t* off, int64_t n) {
    if (s0 == 1 && s1 == 1 && s2 == 1) { swiglu_row(gp + off[0], upp + off[1], yp + off[2], n); return; }
    for (int64_t i = 0; i < n; ++i) yp[off[2] + i * s2] = swiglu_fwd(gp[off[0] + i * s0], upp[off[1] + i * s1]);
  });
}

// args: gate, up, dy, dgate, dup (all the same shape; any strides)
STELLAR_KERNEL("cpu/fused_swiglu_backward", a) {
  TDesc gate = a.t(), up = a.t(), dy = a.t(), dgate = a.t(), dup = a.t();
  check(gate, dgate, "gate"); check(up, dgate, "up"); check(dy, dgate, "dy"); check(dup, dgate, "dup"); check(dgate, dgate, "dgate");
  StridedIter<5> it(dgate, {&gate, &up, &dy, &dgate, &dup});
  const float* gp = gate.ptr<float>(); const float* upp = up.ptr<float>(); const float* dyp = dy.ptr<float>();
  float* dgp = dgate.ptr<float>(); float* dup_ = dup.ptr<float>();
  int64_t s[5];
  for (int k = 0; k < 5; ++k) s[k] = it.inner_stride(k);
  bool unit = s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1 && s[4] == 1;
  it.for_each_row([&](const int64_t* off, int64_t n) {
    if (unit) { swiglu_bwd_row(gp + off[0], upp + off[1], dyp + off[2], dgp + off[3], dup_ + off[4], n); return; }
    for (int64_t i = 0; i < n; ++i)
      swiglu_bwd(gp[off[0] + i * s[0]], upp[off[1] + i * s[1]], dyp[off[2] + i * s[2]], dgp + off[3] + i * s[3], dup_ + off[4] + i * s[4]);
  });
}

}  // namespace stellar
