// Run-time SIMD dispatch: hot loops are compiled for AVX-512, AVX2+FMA and a portable baseline,
// and the dynamic loader picks the best clone for the running CPU (GCC function multiversioning).
#pragma once
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define STELLAR_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define STELLAR_MULTIVERSION
#endif

namespace stellar {
struct CpuFeatures { bool avx2, fma, f16c, avx512f, avx512bw, avx512bf16, avx512vnni; };
CpuFeatures cpu_features();
}  // namespace stellar
