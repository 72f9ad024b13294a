// Op codes shared with the native kernels (csrc/shared/elementwise_math.h, csrc/cpu/reduce.cc).
export const UnaryOp = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, abs: 5, sigmoid: 6, tanh: 7, relu: 8, silu: 9,
  gelu: 10, gelu_tanh: 11, reciprocal: 12, square: 13, sin: 14, cos: 15, pow_scalar: 16, affine: 17, sign: 18,
} as const;
export type UnaryName = keyof typeof UnaryOp;

export const BinaryOp = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6 } as const;
export type BinaryName = keyof typeof BinaryOp;

export const CompareOp = { eq: 0, ne: 1, lt: 2, le: 3, gt: 4, ge: 5 } as const;
export type CompareName = keyof typeof CompareOp;

export const ReduceOp = { sum: 0, mean: 1, max: 2, min: 3, argmax: 4, logsumexp: 5, argmin: 6 } as const;
export type ReduceName = keyof typeof ReduceOp;
