// Philox4x32-10 counter-based RNG: element i of a stream depends only on (seed, counter), so results
// are identical across thread counts, runs and devices.
#pragma once
#include <cstdint>
#include <cmath>
#include "hd.h"

namespace stellar {

struct U32x4 { uint32_t v[4]; };

STELLAR_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

STELLAR_HD U32x4 philox4x32(uint64_t counter, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
  }
  U32x4 out = {{c0, c1, c2, c3}};
  return out;
}

// Uniform in [0, 1) with 24 random bits.
STELLAR_HD float u32_to_unit(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

// Element i of the uniform stream (seed, offset): 4 values per Philox call.
STELLAR_HD float philox_uniform(uint64_t seed, uint64_t offset, uint64_t i) {
  U32x4 r = philox4x32(offset + i / 4, seed);
  return u32_to_unit(r.v[i % 4]);
}

// Element i of the standard normal stream: Box-Muller on lanes (0,1) and (2,3).
STELLAR_HD float philox_normal(uint64_t seed, uint64_t offset, uint64_t i) {
  U32x4 r = philox4x32(offset + i / 4, seed);
  int lane = static_cast<int>(i % 4);
  int pair = lane / 2;
  float u1 = (static_cast<float>(r.v[pair * 2] >> 8) + 1.0f) * (1.0f / 16777217.0f);  // (0, 1]
  float u2 = u32_to_unit(r.v[pair * 2 + 1]);
  float rad = sqrtf(-2.0f * logf(u1));
  float th = 6.283185307179586f * u2;
  return (lane % 2 == 0) ? rad * cosf(th) : rad * sinf(th);
}

}  // namespace stellar
