// Arguments of the random kernels (cpu/ and cuda/ rng and multinomial), decoded and checked once on
// the host for both devices.
#pragma once
#include "device.h"

namespace stellar {

// JS passes 64-bit values as two 32-bit halves (doubles are exact there): hi, then lo.
inline uint64_t read_u64(ArgReader& a) {
  uint64_t hi = static_cast<uint64_t>(a.i()), lo = static_cast<uint64_t>(a.i());
  return (hi << 32) | lo;
}

struct RngArgs {
  int dist;        // shared/random_math.h distribution code
  float p0, p1;    // uniform: [p0, p1); normal: mean p0, std p1; bernoulli: value p1 with probability p0, else 0
  uint64_t seed, offset;
  TDesc y;         // contiguous float32
};

// args: dist, p0, p1, seed(hi, lo), offset(hi, lo), y (contiguous f32)
inline RngArgs read_rng_args(ArgReader& a, Device dev) {
  RngArgs r;
  r.dist = static_cast<int>(a.i());
  r.p0 = static_cast<float>(a.f());
  r.p1 = static_cast<float>(a.f());
  r.seed = read_u64(a);
  r.offset = read_u64(a);
  r.y = a.t();
  require_on(dev, "cuda/rng", {&r.y});
  STELLAR_CHECK(r.y.dtype == DType::F32 && r.y.contiguous(), "rng: output must be contiguous float32");
  return r;
}

struct MultinomialArgs {
  int64_t n;       // draws per row, with replacement
  uint64_t seed, offset;
  TDesc p, out;    // weights (R, V) float32 and draws (R, n) int64, both contiguous
  int64_t R, V;
};

// args: n, seed(hi, lo), offset(hi, lo), probs, out
inline MultinomialArgs read_multinomial_args(ArgReader& a, Device dev) {
  MultinomialArgs m;
  m.n = a.i();
  m.seed = read_u64(a);
  m.offset = read_u64(a);
  m.p = a.t(); m.out = a.t();
  require_on(dev, "cuda/multinomial", {&m.p, &m.out});
  STELLAR_CHECK(m.p.dtype == DType::F32 && m.p.contiguous() && m.out.dtype == DType::I64 && m.out.contiguous(), "multinomial: bad views");
  m.V = m.p.shape[m.p.ndim - 1];
  m.R = m.V ? m.p.numel / m.V : 0;
  return m;
}

}  // namespace stellar
