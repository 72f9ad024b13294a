// CUDA twins of cpu/elementwise.cc: unary (+ backward), binary, compare and where over broadcast
// strided float32 views, one thread per output element, with the per-element math of
// shared/elementwise_math.h.
#include "../shared/elementwise_math.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

using cu::launch_map;

void require_f32(const TDesc& t, const char* what) {
  if (t.dtype != DType::F32) throw Error(std::string(what) + ": expected float32, got " + dtype_name(t.dtype));
}

struct UnaryF {
  const float* x; float* y; int op; float p, q;
  __device__ void operator()(const int64_t* o) const { y[o[1]] = unary_fwd(op, x[o[0]], p, q); }
};
struct UnaryBwdF {
  const float* x; const float* g; float* gx; int op; float p, q;
  __device__ void operator()(const int64_t* o) const { gx[o[2]] = g[o[1]] * unary_deriv(op, x[o[0]], p, q); }
};
struct BinaryF {
  const float* a; const float* b; float* y; int op;
  __device__ void operator()(const int64_t* o) const { y[o[2]] = binary_fwd(op, a[o[0]], b[o[1]]); }
};
struct CompareF {
  const float* a; const float* b; uint8_t* y; int op;
  __device__ void operator()(const int64_t* o) const { y[o[2]] = compare_fwd(op, a[o[0]], b[o[1]]) ? 1 : 0; }
};
struct WhereF {
  const uint8_t* c; const float* a; const float* b; float* y;
  __device__ void operator()(const int64_t* o) const { y[o[3]] = c[o[0]] ? a[o[1]] : b[o[2]]; }
};

}  // namespace

// args: op, p, q, x, y
STELLAR_KERNEL("cuda/unary", a) {
  int op = static_cast<int>(a.i());
  float p = static_cast<float>(a.f()), q = static_cast<float>(a.f());
  TDesc x = a.t(), y = a.t();
  cu::require_device("cuda/unary", {&x, &y});
  require_f32(x, "unary"); require_f32(y, "unary");
  launch_map<2>("cuda/unary", y, {&x, &y}, UnaryF{x.ptr<float>(), y.ptr<float>(), op, p, q});
}

// gx = g * f'(x). args: op, p, q, x, g, gx
STELLAR_KERNEL("cuda/unary_backward", a) {
  int op = static_cast<int>(a.i());
  float p = static_cast<float>(a.f()), q = static_cast<float>(a.f());
  TDesc x = a.t(), g = a.t(), gx = a.t();
  cu::require_device("cuda/unary_backward", {&x, &g, &gx});
  require_f32(x, "unary_backward"); require_f32(g, "unary_backward"); require_f32(gx, "unary_backward");
  launch_map<3>("cuda/unary_backward", gx, {&x, &g, &gx}, UnaryBwdF{x.ptr<float>(), g.ptr<float>(), gx.ptr<float>(), op, p, q});
}

// args: op, a, b, y  (a and b already broadcast to y's shape via zero strides)
STELLAR_KERNEL("cuda/binary", a) {
  int op = static_cast<int>(a.i());
  TDesc x = a.t(), z = a.t(), y = a.t();
  cu::require_device("cuda/binary", {&x, &z, &y});
  require_f32(x, "binary"); require_f32(z, "binary"); require_f32(y, "binary");
  launch_map<3>("cuda/binary", y, {&x, &z, &y}, BinaryF{x.ptr<float>(), z.ptr<float>(), y.ptr<float>(), op});
}

// args: op, a, b, y(u8)
STELLAR_KERNEL("cuda/compare", a) {
  int op = static_cast<int>(a.i());
  TDesc x = a.t(), z = a.t(), y = a.t();
  cu::require_device("cuda/compare", {&x, &z, &y});
  require_f32(x, "compare"); require_f32(z, "compare");
  STELLAR_CHECK(y.dtype == DType::U8, "compare: output must be bool");
  launch_map<3>("cuda/compare", y, {&x, &z, &y}, CompareF{x.ptr<float>(), z.ptr<float>(), y.ptr<uint8_t>(), op});
}

// y = cond ? a : b. args: cond(u8), a, b, y
STELLAR_KERNEL("cuda/where", a) {
  TDesc c = a.t(), x = a.t(), z = a.t(), y = a.t();
  cu::require_device("cuda/where", {&c, &x, &z, &y});
  STELLAR_CHECK(c.dtype == DType::U8, "where: condition must be bool");
  require_f32(x, "where"); require_f32(z, "where"); require_f32(y, "where");
  launch_map<4>("cuda/where", y, {&c, &x, &z, &y}, WhereF{c.ptr<uint8_t>(), x.ptr<float>(), z.ptr<float>(), y.ptr<float>()});
}

}  // namespace stellar
