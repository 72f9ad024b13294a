// CPU kernels for elementwise ops over broadcast strided views: unary (+ its backward), binary,
// comparisons, where, fill. Inputs arrive as f32 views whose broadcast dims have stride 0.
#include "../core/registry.h"
#include "../core/simd.h"
#include "../shared/elementwise_math.h"
#include "strided.h"

namespace stellar {
namespace {

void require_f32(const TDesc& t, const char* what) {
  if (t.dtype != DType::F32) throw Error(std::string(what) + ": expected float32, got " + dtype_name(t.dtype));
}

// Contiguous inner loops, multiversioned so the compiler's vectorizer targets AVX-512 / AVX2.
STELLAR_MULTIVERSION void unary_row(int op, const float* x, int64_t sx, float* y, int64_t n, float p, float q) {
  if (sx == 1) {
    switch (op) {  // the common cheap ops get branch-free loops the vectorizer can handle
      case U_NEG: for (int64_t i = 0; i < n; ++i) y[i] = -x[i]; return;
      case U_RELU: for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f; return;
      case U_SQUARE: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i]; return;
      case U_AFFINE: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * p + q; return;
      case U_SQRT: for (int64_t i = 0; i < n; ++i) y[i] = sqrtf(x[i]); return;
      case U_RSQRT: for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / sqrtf(x[i]); return;
      case U_ABS: for (int64_t i = 0; i < n; ++i) y[i] = fabsf(x[i]); return;
      case U_RECIP: for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / x[i]; return;
      default: for (int64_t i = 0; i < n; ++i) y[i] = unary_fwd(op, x[i], p, q); return;
    }
  }
  for (int64_t i = 0; i < n; ++i) y[i] = unary_fwd(op, x[i * sx], p, q);
}

STELLAR_MULTIVERSION void binary_row(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  if (sa == 1 && sb == 1) {
    switch (op) {
      case B_ADD: for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i]; return;
      case B_SUB: for (int64_t i = 0; i < n; ++i) y[i] = a[i] - b[i]; return;
      case B_MUL: for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i]; return;
      case B_DIV: for (int64_t i = 0; i < n; ++i) y[i] = a[i] / b[i]; return;
      default: break;
    }
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    switch (op) {
      case B_ADD: for (int64_t i = 0; i < n; ++i) y[i] = a[i] + bv; return;
      case B_SUB: for (int64_t i = 0; i < n; ++i) y[i] = a[i] - bv; return;
      case B_MUL: for (int64_t i = 0; i < n; ++i) y[i] = a[i] * bv; return;
      case B_DIV: for (int64_t i = 0; i < n; ++i) y[i] = a[i] / bv; return;
      default: break;
    }
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    switch (op) {
      case B_ADD: for (int64_t i = 0; i < n; ++i) y[i] = av + b[i]; return;
      case B_SUB: for (int64_t i = 0; i < n; ++i) y[i] = av - b[i]; return;
      case B_MUL: for (int64_t i = 0; i < n; ++i) y[i] = av * b[i]; return;
      case B_DIV: for (int64_t i = 0; i < n; ++i) y[i] = av / b[i]; return;
      default: break;
    }
  }
  for (int64_t i = 0; i < n; ++i) y[i] = binary_fwd(op, a[i * sa], b[i * sb]);
}

}  // namespace

// args: op, p, q, x, y
STELLAR_KERNEL("cpu/unary", a) {
  int op = static_cast<int>(a.i());
  float p = static_cast<float>(a.f()), q = static_cast<float>(a.f());
  TDesc x = a.t(), y = a.t();
  require_f32(x, "unary"); require_f32(y, "unary");
  StridedIter<2> it(y, {&x, &y});
  const float* xp = x.ptr<float>(); float* yp = y.ptr<float>();
  int64_t sx = it.inner_stride(0), sy = it.inner_stride(1);
  it.for_each_row([&](const int64_t* off, int64_t n) {
    if (sy == 1) unary_row(op, xp + off[0], sx, yp + off[1], n, p, q);
    else for (int64_t i = 0; i < n; ++i) yp[off[1] + i * sy] = unary_fwd(op, xp[off[0] + i * sx], p, q);
  });
}

// gx = g * f'(x). args: op, p, q, x, g, gx
STELLAR_KERNEL("cpu/unary_backward", a) {
  int op = static_cast<int>(a.i());
  float p = static_cast<float>(a.f()), q = static_cast<float>(a.f());
  TDesc x = a.t(), g = a.t(), gx = a.t();
  require_f32(x, "unary_backward"); require_f32(g, "unary_backward"); require_f32(gx, "unary_backward");
  StridedIter<3> it(gx, {&x, &g, &gx});
  const float* xp = x.ptr<float>(); const float* gp = g.ptr<float>(); float* op_ = gx.ptr<float>();
  int64_t s0 = it.inner_stride(0), s1 = it.inner_stride(1), s2 = it.inner_stride(2);
  it.for_each_row([&](const int64_t* off, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      op_[off[2] + i * s2] = gp[off[1] + i * s1] * unary_deriv(op, xp[off[0] + i * s0], p, q);
  });
}

// args: op, a, b, y  (a and b already broadcast to y's shape via zero strides)
STELLAR_KERNEL("cpu/binary", a) {
  int op = static_cast<int>(a.i());
  TDesc x = a.t(), z = a.t(), y = a.t();
  require_f32(x, "binary"); require_f32(z, "binary"); require_f32(y, "binary");
  StridedIter<3> it(y, {&x, &z, &y});
  const float* ap = x.ptr<float>(); const float* bp = z.ptr<float>(); float* yp = y.ptr<float>();
  int64_t sa = it.inner_stride(0), sb = it.inner_stride(1), sy = it.inner_stride(2);
  it.for_each_row([&](const int64_t* off, int64_t n) {
    if (sy == 1) binary_row(op, ap + off[0], sa, bp + off[1], sb, yp + off[2], n);
    else for (int64_t i = 0; i < n; ++i) yp[off[2] + i * sy] = binary_fwd(op, ap[off[0] + i * sa], bp[off[1] + i * sb]);
  });
}

// args: op, a, b, y(u8)
STELLAR_KERNEL("cpu/compare", a) {
  int op = static_cast<int>(a.i());
  TDesc x = a.t(), z = a.t(), y = a.t();
  require_f32(x, "compare"); require_f32(z, "compare");
  STELLAR_CHECK(y.dtype == DType::U8, "compare: output must be bool");
  StridedIter<3> it(y, {&x, &z, &y});
  const float* ap = x.ptr<float>(); const float* bp = z.ptr<float>(); uint8_t* yp = y.ptr<uint8_t>();
  int64_t sa = it.inner_stride(0), sb = it.inner_stride(1), sy = it.inner_stride(2);
  it.for_each_row([&](const int64_t* off, int64_t n) {
    for (int64_t i = 0; i < n; ++i) yp[off[2] + i * sy] = compare_fwd(op, ap[off[0] + i * sa], bp[off[1] + i * sb]);
  });
}

// y = cond ? a : b. args: cond(u8), a, b, y
STELLAR_KERNEL("cpu/where", a) {
  TDesc c = a.t(), x = a.t(), z = a.t(), y = a.t();
  STELLAR_CHECK(c.dtype == DType::U8, "where: condition must be bool");
  require_f32(x, "where"); require_f32(z, "where"); require_f32(y, "where");
  StridedIter<4> it(y, {&c, &x, &z, &y});
  const uint8_t* cp = c.ptr<uint8_t>(); const float* ap = x.ptr<float>(); const float* bp = z.ptr<float>();
  float* yp = y.ptr<float>();
  int64_t s0 = it.inner_stride(0), s1 = it.inner_stride(1), s2 = it.inner_stride(2), s3 = it.inner_stride(3);
  it.for_each_row([&](const int64_t* off, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      yp[off[3] + i * s3] = cp[off[0] + i * s0] ? ap[off[1] + i * s1] : bp[off[2] + i * s2];
  });
}

}  // namespace stellar
