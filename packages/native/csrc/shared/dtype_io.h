// Loads and stores of one element of any dtype through double, shared by the CPU and CUDA copy/fill
// kernels so casts round the same way on both devices.
#pragma once
#include <cstdint>
#include "../core/common.h"
#include "dtype_convert.h"
#include "hd.h"

namespace stellar {

STELLAR_HD double load_as_double(DType t, const char* p) {
  switch (t) {
    case DType::F32: return *reinterpret_cast<const float*>(p);
    case DType::BF16: return bf16_to_f32(*reinterpret_cast<const uint16_t*>(p));
    case DType::F16: return f16_to_f32(*reinterpret_cast<const uint16_t*>(p));
    case DType::I32: return *reinterpret_cast<const int32_t*>(p);
    case DType::I64: return static_cast<double>(*reinterpret_cast<const int64_t*>(p));
    case DType::U8: return *reinterpret_cast<const uint8_t*>(p);
    case DType::I8: return *reinterpret_cast<const int8_t*>(p);
  }
  return 0;
}

// double -> int8 like PyTorch's .to(torch.int8) for in-range values (truncation toward zero); values
// outside [-128, 127] saturate (PyTorch wraps there, which silently turns 200 into -56) and NaN becomes 0.
STELLAR_HD int8_t double_to_i8(double v) {
  if (!(v == v)) return 0;
  if (v >= 127.0) return 127;
  if (v <= -128.0) return -128;
  return static_cast<int8_t>(static_cast<int>(v));
}

STELLAR_HD void store_from_double(DType t, char* p, double v) {
  switch (t) {
    case DType::F32: *reinterpret_cast<float*>(p) = static_cast<float>(v); break;
    case DType::BF16: *reinterpret_cast<uint16_t*>(p) = f32_to_bf16(static_cast<float>(v)); break;
    case DType::F16: *reinterpret_cast<uint16_t*>(p) = f32_to_f16(static_cast<float>(v)); break;
    case DType::I32: *reinterpret_cast<int32_t*>(p) = static_cast<int32_t>(v); break;
    case DType::I64: *reinterpret_cast<int64_t*>(p) = static_cast<int64_t>(v); break;
    case DType::U8: *reinterpret_cast<uint8_t*>(p) = v != 0 ? 1 : 0; break;
    case DType::I8: *reinterpret_cast<int8_t*>(p) = double_to_i8(v); break;
  }
}

}  // namespace stellar
