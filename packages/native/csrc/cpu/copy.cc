// Strided copy with dtype conversion (contiguous(), casts, concat/split/slice assignment), fill and arange.
#include <cstring>
#include "../core/registry.h"
#include "../core/simd.h"
#include "../shared/dtype_convert.h"
#include "../shared/dtype_io.h"
#include "strided.h"

namespace stellar {
namespace {

template <typename T> inline float load_f(const char* p);
template <> inline float load_f<float>(const char* p) { return *reinterpret_cast<const float*>(p); }

STELLAR_MULTIVERSION void f32_to_bf16_row(const float* s, int64_t ss, uint16_t* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(s[i * ss]);
}
STELLAR_MULTIVERSION void bf16_to_f32_row(const uint16_t* s, int64_t ss, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = bf16_to_f32(s[i * ss]);
}

}  // namespace

// args: src, dst (same shape; any dtypes)
STELLAR_KERNEL("cpu/copy", a) {
  TDesc s = a.t(), d = a.t();
  STELLAR_CHECK(s.numel == d.numel, "copy: element counts differ");
  StridedIter<2> it(d, {&s, &d});
  int64_t ss = it.inner_stride(0), ds = it.inner_stride(1);
  size_t es = dtype_size(s.dtype), ed = dtype_size(d.dtype);
  if (s.dtype == d.dtype) {
    it.for_each_row([&](const int64_t* off, int64_t n) {
      const char* sp = s.base + off[0] * es;
      char* dp = d.base + off[1] * ed;
      if (ss == 1 && ds == 1) { std::memcpy(dp, sp, n * es); return; }
      for (int64_t i = 0; i < n; ++i) std::memcpy(dp + i * ds * ed, sp + i * ss * es, es);
    });
    return;
  }
  if (s.dtype == DType::F32 && d.dtype == DType::BF16 && ds == 1) {
    it.for_each_row([&](const int64_t* off, int64_t n) { f32_to_bf16_row(s.ptr<float>() + off[0], ss, d.ptr<uint16_t>() + off[1], n); });
    return;
  }
  if (s.dtype == DType::BF16 && d.dtype == DType::F32 && ds == 1) {
    it.for_each_row([&](const int64_t* off, int64_t n) { bf16_to_f32_row(s.ptr<uint16_t>() + off[0], ss, d.ptr<float>() + off[1], n); });
    return;
  }
  it.for_each_row([&](const int64_t* off, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      store_from_double(d.dtype, d.base + (off[1] + i * ds) * ed, load_as_double(s.dtype, s.base + (off[0] + i * ss) * es));
  });
}

// args: value, dst
STELLAR_KERNEL("cpu/fill", a) {
  double v = a.f();
  TDesc d = a.t();
  StridedIter<1> it(d, {&d});
  int64_t ds = it.inner_stride(0);
  size_t ed = dtype_size(d.dtype);
  if (d.dtype == DType::F32) {
    float fv = static_cast<float>(v);
    it.for_each_row([&](const int64_t* off, int64_t n) { float* p = d.ptr<float>() + off[0]; for (int64_t i = 0; i < n; ++i) p[i * ds] = fv; });
    return;
  }
  it.for_each_row([&](const int64_t* off, int64_t n) {
    for (int64_t i = 0; i < n; ++i) store_from_double(d.dtype, d.base + (off[0] + i * ds) * ed, v);
  });
}

// dst[i] = start + i * step over a contiguous 1-D dst. args: start, step, dst
STELLAR_KERNEL("cpu/arange", a) {
  double start = a.f(), step = a.f();
  TDesc d = a.t();
  size_t ed = dtype_size(d.dtype);
  for (int64_t i = 0; i < d.numel; ++i) store_from_double(d.dtype, d.base + d.offset_of(i) * ed, start + step * static_cast<double>(i));
}

}  // namespace stellar
