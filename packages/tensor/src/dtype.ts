// Data types: names, the addon's numeric codes, element sizes and host array types.
// 'int8' is a storage/inference dtype (quantized weights): casts, copies and views, not arithmetic.
export type DType = 'float32' | 'bfloat16' | 'float16' | 'int32' | 'int64' | 'bool' | 'int8';

export const DTYPE_CODE: Record<DType, number> = { float32: 0, bfloat16: 1, float16: 2, int32: 3, int64: 4, bool: 5, int8: 6 };
export const DTYPE_SIZE: Record<DType, number> = { float32: 4, bfloat16: 2, float16: 2, int32: 4, int64: 8, bool: 1, int8: 1 };

/** Host arrays as returned by `Tensor.data()`; bf16/f16 come back as raw uint16 bit patterns. */
export type HostArray = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export function hostArray(dtype: DType, length: number): HostArray {
  switch (dtype) {
    case 'float32': return new Float32Array(length);
    case 'bfloat16': case 'float16': return new Uint16Array(length);
    case 'int32': return new Int32Array(length);
    case 'int64': return new BigInt64Array(length);
    case 'bool': return new Uint8Array(length);
    case 'int8': return new Int8Array(length);
  }
}

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'bfloat16' || d === 'float16';
export const isIndex = (d: DType): boolean => d === 'int32' || d === 'int64';
export const isInt = (d: DType): boolean => d === 'int8' || d === 'int32' || d === 'int64';
