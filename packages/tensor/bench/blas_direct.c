// The BLAS peer of matmul.bench.mjs: times cblas_sgemm / cblas_sbgemm called directly from C on
// preallocated, pre-touched buffers. Compiled by the bench at bench time (cc -O2 ... -lopenblas).
//
// Reads one request per stdin line and answers with one line, so the bench can alternate runs:
//   request:  <f32|bf16> <N|T transA> <N|T transB> <M> <N> <K> <threads> <warmup> <reps>
//   answer:   ok <wall:cpu seconds of each timed call, space separated> (cpu = process CPU time, all threads)
// "config" answers "ok sbgemm=<0|1> <openblas_get_config()>"; "quit" or end of input exits.
// Given the nine request fields as command-line arguments, it prints the median seconds per call.
//
// Some OpenBLAS builds (Debian's 0.3.21) declare cblas_sbgemm in cblas.h but do not export it. Then
// a bf16 request widens A and B to fp32 inside the timed call (split over the same number of threads)
// and runs cblas_sgemm: the best a user of that library can do.
#include <cblas.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma weak cblas_sbgemm

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int has_sbgemm(void) { return &cblas_sbgemm != NULL; }

// Buffers are kept across requests (grown when needed) and zeroed once, so no timed call pays a
// first-touch page fault: the same conditions as a warmed-up caching allocator.
static void* grow(void* p, size_t* cap, size_t need) {
  if (need <= *cap) return p;
  free(p);
  p = aligned_alloc(64, (need + 63) / 64 * 64);
  if (!p) { fprintf(stderr, "blas_direct: out of memory\n"); exit(2); }
  memset(p, 0, need);
  *cap = need;
  return p;
}

static float rnd(uint32_t* s) { *s = *s * 1664525u + 1013904223u; return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f; }

static uint16_t to_bf16(float f) {  // round to nearest even (inputs are finite)
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static void bf16_to_f32(const uint16_t* x, float* y, size_t n) {
  for (size_t i = 0; i < n; i++) { uint32_t u = (uint32_t)x[i] << 16; memcpy(&y[i], &u, 4); }
}

struct Widen { const uint16_t* x; float* y; size_t n; };
static void* widen_part(void* p) { struct Widen* w = p; bf16_to_f32(w->x, w->y, w->n); return NULL; }

// Widening split into `threads` contiguous parts; the caller's thread takes the first.
static void bf16_to_f32_mt(const uint16_t* x, float* y, size_t n, int threads) {
  enum { MAXT = 64 };
  if (threads > MAXT) threads = MAXT;
  if (threads < 1) threads = 1;
  pthread_t tid[MAXT];
  struct Widen w[MAXT];
  size_t per = (n + (size_t)threads - 1) / (size_t)threads;
  for (int t = 0; t < threads; t++) {
    size_t b = (size_t)t * per, e = b + per < n ? b + per : n;
    w[t] = (struct Widen){x + b, y + b, e > b ? e - b : 0};
    if (t > 0) pthread_create(&tid[t], NULL, widen_part, &w[t]);
  }
  widen_part(&w[0]);
  for (int t = 1; t < threads; t++) pthread_join(tid[t], NULL);
}

static void fill(void* p, size_t n, int bf16, uint32_t seed) {
  for (size_t i = 0; i < n; i++) {
    float v = rnd(&seed);
    if (bf16) ((uint16_t*)p)[i] = to_bf16(v); else ((float*)p)[i] = v;
  }
}

static void *a, *b, *a32, *b32;
static float* c;
static size_t ca, cb, ca32, cb32, cc;

// Runs one request; writes the per-call wall and CPU seconds of the timed reps. Returns 0 on a bad request.
static int run(const char* line, double* times, double* cpu, long max_reps, long* n_out) {
  static char filled[64] = "";
  char dt[8], ta, tb, key[64];
  long M, N, K, threads, warm, reps;
  if (sscanf(line, "%7s %c %c %ld %ld %ld %ld %ld %ld", dt, &ta, &tb, &M, &N, &K, &threads, &warm, &reps) != 9 ||
      (strcmp(dt, "f32") != 0 && strcmp(dt, "bf16") != 0) || M <= 0 || N <= 0 || K <= 0 || reps <= 0 ||
      reps > max_reps || warm < 0 || threads <= 0)
    return 0;
  int bf16 = strcmp(dt, "bf16") == 0;
  int convert = bf16 && !has_sbgemm();
  size_t es = bf16 ? 2 : 4;
  a = grow(a, &ca, (size_t)M * K * es);
  b = grow(b, &cb, (size_t)K * N * es);
  c = grow(c, &cc, (size_t)M * N * sizeof(float));
  if (convert) {
    a32 = grow(a32, &ca32, (size_t)M * K * sizeof(float));
    b32 = grow(b32, &cb32, (size_t)K * N * sizeof(float));
  }
  // Real values (zeros could hit special cases), refilled only when the problem changes.
  snprintf(key, sizeof key, "%s %ld %ld %ld", dt, M, N, K);
  if (strcmp(key, filled) != 0) {
    fill(a, (size_t)M * K, bf16, 1);
    fill(b, (size_t)K * N, bf16, 2);
    strcpy(filled, key);
  }
  openblas_set_num_threads((int)threads);
  // Row-major A is (M, K), or stored (K, M) when transposed; likewise B is (K, N) or stored (N, K).
  enum CBLAS_TRANSPOSE TA = ta == 'T' ? CblasTrans : CblasNoTrans, TB = tb == 'T' ? CblasTrans : CblasNoTrans;
  blasint lda = ta == 'T' ? M : K, ldb = tb == 'T' ? K : N, ldc = N;
  for (long r = -warm; r < reps; r++) {
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (convert) {
      bf16_to_f32_mt(a, a32, (size_t)M * K, (int)threads);
      bf16_to_f32_mt(b, b32, (size_t)K * N, (int)threads);
      cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.0f, a32, lda, b32, ldb, 0.0f, c, ldc);
    } else if (bf16) {
      cblas_sbgemm(CblasRowMajor, TA, TB, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    } else {
      cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    }
    double t = clock_s(CLOCK_MONOTONIC) - t0, ct = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (r >= 0) { times[r] = t; cpu[r] = ct; }
  }
  *n_out = reps;
  return 1;
}

static int cmp_double(const void* x, const void* y) {
  double d = *(const double*)x - *(const double*)y;
  return d < 0 ? -1 : d > 0;
}

#define MAX_REPS 1000

int main(int argc, char** argv) {
  static double times[MAX_REPS], cpu[MAX_REPS];
  long n = 0;
  char line[512];
  if (argc == 10) {
    snprintf(line, sizeof line, "%s %s %s %s %s %s %s %s %s", argv[1], argv[2], argv[3], argv[4], argv[5], argv[6],
             argv[7], argv[8], argv[9]);
    if (!run(line, times, cpu, MAX_REPS, &n)) {
      fprintf(stderr, "usage: blas_direct f32|bf16 N|T N|T M N K threads warmup reps\n");
      return 1;
    }
    qsort(times, (size_t)n, sizeof(double), cmp_double);
    printf("%.9f\n", n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]));
    return 0;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "quit", 4) == 0) break;
    if (strncmp(line, "config", 6) == 0) { printf("ok sbgemm=%d %s\n", has_sbgemm(), openblas_get_config()); continue; }
    if (!run(line, times, cpu, MAX_REPS, &n)) { printf("error bad request: %s", line); continue; }
    printf("ok");
    for (long r = 0; r < n; r++) printf(" %.9f:%.9f", times[r], cpu[r]);
    printf("\n");
  }
  return 0;
}
