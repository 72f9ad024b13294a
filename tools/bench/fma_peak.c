// Measured compute peak of this CPU for the model bench's MFU column: fp32 FMA on the widest vectors
// the compiler targets (-march=native), and vdpbf16ps (bf16 pairs into fp32) when AVX512-BF16 exists,
// with 1 and 2 threads. Each thread runs independent accumulator chains (more than latency x ports),
// so the loop is bound by FMA throughput alone (the chains are unrolled so they live in registers).
// Prints one JSON line.
// Build: gcc -O2 -march=native -pthread tools/bench/fma_peak.c -o fma_peak   (the bench does this)
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS 12

static volatile float sink;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

#if defined(__AVX512F__)
#define ISA "avx512"
#define FP32_FLOPS_PER_OP 32.0   /* 16 lanes x (mul + add) */
static void fp32_loop(long iters) {
  __m512 acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
  for (long it = 0; it < iters; it++)
    _Pragma("GCC unroll 16") for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, c);
  __m512 s = acc[0];
  for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
  sink = _mm512_reduce_add_ps(s);
}
#elif defined(__AVX2__) && defined(__FMA__)
#define ISA "avx2+fma"
#define FP32_FLOPS_PER_OP 16.0   /* 8 lanes x (mul + add) */
static void fp32_loop(long iters) {
  __m256 acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
  for (long it = 0; it < iters; it++)
    _Pragma("GCC unroll 16") for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, c);
  float out[8];
  __m256 s = acc[0];
  for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
  _mm256_storeu_ps(out, s);
  sink = out[0];
}
#else
#define ISA "scalar"
#define FP32_FLOPS_PER_OP 2.0
static void fp32_loop(long iters) {
  float acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = (float)i;
  for (long it = 0; it < iters; it++)
    _Pragma("GCC unroll 16") for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * 0.999999f + 1e-6f;
  float s = 0;
  for (int i = 0; i < CHAINS; i++) s += acc[i];
  sink = s;
}
#endif

#if defined(__AVX512BF16__)
#define HAS_BF16 1
#define BF16_FLOPS_PER_OP 64.0   /* 16 fp32 lanes x 2 bf16 products x (mul + add) */
static void bf16_loop(long iters) {
  __m512 acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(3e-3f), _mm512_set1_ps(1e-3f));
  for (long it = 0; it < iters; it++)
    _Pragma("GCC unroll 16") for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
  sink = _mm512_reduce_add_ps(s);
}
#else
#define HAS_BF16 0
#define BF16_FLOPS_PER_OP 0.0
static void bf16_loop(long iters) { (void)iters; }
#endif

typedef struct { void (*fn)(long); long iters; } Job;

static void *run_job(void *p) {
  Job *j = (Job *)p;
  j->fn(j->iters);
  return NULL;
}

/* GFLOP/s of `threads` threads each running fn(iters); the best of `reps` runs (the peak). */
static double measure(void (*fn)(long), double flops_per_op, int threads, long iters, int reps) {
  double best = 0;
  for (int r = 0; r < reps; r++) {
    pthread_t th[64];
    Job jobs[64];
    double t0 = now();
    for (int i = 0; i < threads; i++) { jobs[i].fn = fn; jobs[i].iters = iters; pthread_create(&th[i], NULL, run_job, &jobs[i]); }
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    double dt = now() - t0;
    double gf = (double)threads * iters * CHAINS * flops_per_op / dt / 1e9;
    if (gf > best) best = gf;
  }
  return best;
}

/* Iterations that take about `seconds` on one thread. */
static long calibrate(void (*fn)(long), double seconds) {
  long iters = 1 << 16;
  for (;;) {
    double t0 = now();
    fn(iters);
    double dt = now() - t0;
    if (dt > 0.05) return (long)(iters * seconds / dt) + 1;
    iters *= 4;
  }
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 0.25;
  int reps = 5;
  long fi = calibrate(fp32_loop, seconds);
  double f1 = measure(fp32_loop, FP32_FLOPS_PER_OP, 1, fi, reps);
  double f2 = measure(fp32_loop, FP32_FLOPS_PER_OP, 2, fi, reps);
  printf("{\"isa\": \"%s\", \"fp32_1t\": %.2f, \"fp32_2t\": %.2f", ISA, f1, f2);
  if (HAS_BF16) {
    long bi = calibrate(bf16_loop, seconds);
    double b1 = measure(bf16_loop, BF16_FLOPS_PER_OP, 1, bi, reps);
    double b2 = measure(bf16_loop, BF16_FLOPS_PER_OP, 2, bi, reps);
    printf(", \"bf16\": \"vdpbf16ps\", \"bf16_1t\": %.2f, \"bf16_2t\": %.2f", b1, b2);
  } else {
    printf(", \"bf16\": null");
  }
  printf("}\n");
  return 0;
}
