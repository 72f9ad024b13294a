// Per-element forward and derivative formulas for unary and binary ops, shared by CPU and CUDA.
// The op codes match UnaryOp / BinaryOp in @stellar/tensor (src/ops/codes.ts).
#pragma once
#include <cmath>
#include "hd.h"

namespace stellar {

enum UnaryOp : int {
  U_NEG = 0, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_ABS, U_SIGMOID, U_TANH, U_RELU, U_SILU,
  U_GELU, U_GELU_TANH, U_RECIP, U_SQUARE, U_SIN, U_COS, U_POW_SCALAR, U_AFFINE, U_SIGN
};
enum BinaryOp : int { B_ADD = 0, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN };
enum CompareOp : int { C_EQ = 0, C_NE, C_LT, C_LE, C_GT, C_GE };

STELLAR_HD float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

// p and q are scalar attributes (exponent for pow, scale/shift for affine).
STELLAR_HD float unary_fwd(int op, float x, float p, float q) {
  switch (op) {
    case U_NEG: return -x;
    case U_EXP: return expf(x);
    case U_LOG: return logf(x);
    case U_SQRT: return sqrtf(x);
    case U_RSQRT: return 1.0f / sqrtf(x);
    case U_ABS: return fabsf(x);
    case U_SIGMOID: return sigmoidf_(x);
    case U_TANH: return tanhf(x);
    case U_RELU: return x > 0.f ? x : 0.f;
    case U_SILU: return x * sigmoidf_(x);
    case U_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case U_GELU_TANH: {
      float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + tanhf(u));
    }
    case U_RECIP: return 1.0f / x;
    case U_SQUARE: return x * x;
    case U_SIN: return sinf(x);
    case U_COS: return cosf(x);
    case U_POW_SCALAR: return powf(x, p);
    case U_AFFINE: return x * p + q;
    case U_SIGN: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
  }
  return 0.f;
}

// d unary_fwd(x) / dx
STELLAR_HD float unary_deriv(int op, float x, float p, float q) {
  switch (op) {
    case U_NEG: return -1.f;
    case U_EXP: return expf(x);
    case U_LOG: return 1.0f / x;
    case U_SQRT: return 0.5f / sqrtf(x);
    case U_RSQRT: return -0.5f / (x * sqrtf(x));
    case U_ABS: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case U_SIGMOID: { float s = sigmoidf_(x); return s * (1.f - s); }
    case U_TANH: { float t = tanhf(x); return 1.f - t * t; }
    case U_RELU: return x > 0.f ? 1.f : 0.f;
    case U_SILU: { float s = sigmoidf_(x); return s * (1.f + x * (1.f - s)); }
    case U_GELU: {
      float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
      float pdf = 0.3989422804014327f * expf(-0.5f * x * x);
      return cdf + x * pdf;
    }
    case U_GELU_TANH: {
      float x3 = x * x * x;
      float u = 0.7978845608028654f * (x + 0.044715f * x3);
      float t = tanhf(u);
      float du = 0.7978845608028654f * (1.f + 3.f * 0.044715f * x * x);
      return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * du;
    }
    case U_RECIP: return -1.0f / (x * x);
    case U_SQUARE: return 2.f * x;
    case U_SIN: return cosf(x);
    case U_COS: return -sinf(x);
    case U_POW_SCALAR: return p * powf(x, p - 1.f);
    case U_AFFINE: (void)q; return p;
    case U_SIGN: return 0.f;
  }
  return 0.f;
}

STELLAR_HD float binary_fwd(int op, float a, float b) {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_POW: return powf(a, b);
    case B_MAX: return a > b ? a : b;
    case B_MIN: return a < b ? a : b;
  }
  return 0.f;
}

STELLAR_HD bool compare_fwd(int op, float a, float b) {
  switch (op) {
    case C_EQ: return a == b; case C_NE: return a != b;
    case C_LT: return a < b;  case C_LE: return a <= b;
    case C_GT: return a > b;  case C_GE: return a >= b;
  }
  return false;
}

}  // namespace stellar
