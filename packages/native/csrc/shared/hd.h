// STELLAR_HD marks per-element math compiled for both the CPU kernels and the CUDA kernels,
// so the CPU tests cover the arithmetic the GPU runs.
#pragma once
#if defined(__CUDACC__)
#define STELLAR_HD __host__ __device__ __forceinline__
#else
#define STELLAR_HD inline
#endif
