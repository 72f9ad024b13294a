// CUDA twin of cpu/gemm.cc: C = alpha * A @ B + beta * C over batched strided (batch, rows, cols) views,
// fp32 or bf16 inputs with fp32 accumulation. Uses cuBLAS when a libcublas can be loaded at run time
// (dlopen, so the addon has no link-time dependency on it), else our tiled shared-memory kernel.
// STELLAR_CUBLAS=0 forces the tiled kernel (checked per call, so tests can compare both paths).
#include <dlfcn.h>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include "../shared/dtype_convert.h"
#include "../shared/kernel_args/gemm.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

// ---- cuBLAS, resolved at run time. Prototypes written from the public cuBLAS API documentation;
// enums are passed as int (their C ABI). cuBLAS is column-major: see gemm_cublas for the transposition.
typedef struct cublasContext* cublasHandle_t;
typedef int cublasStatus_t;  // CUBLAS_STATUS_SUCCESS == 0
constexpr int kOpN = 0, kOpT = 1;              // cublasOperation_t
constexpr int kR32F = 0, kR16BF = 14;          // cudaDataType (library_types.h)
constexpr int kCompute32F = 68;                // cublasComputeType_t CUBLAS_COMPUTE_32F
constexpr int kGemmDefault = -1;               // cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT
using CreateFn = cublasStatus_t (*)(cublasHandle_t*);
using SgemmStridedBatchedFn = cublasStatus_t (*)(cublasHandle_t, int transa, int transb, int m, int n, int k,
                                                 const float* alpha, const float* A, int lda, long long strideA,
                                                 const float* B, int ldb, long long strideB, const float* beta,
                                                 float* C, int ldc, long long strideC, int batchCount);
using GemmStridedBatchedExFn = cublasStatus_t (*)(cublasHandle_t, int transa, int transb, int m, int n, int k,
                                                  const void* alpha, const void* A, int Atype, int lda, long long strideA,
                                                  const void* B, int Btype, int ldb, long long strideB, const void* beta,
                                                  void* C, int Ctype, int ldc, long long strideC, int batchCount,
                                                  int computeType, int algo);

struct Cublas {
  cublasHandle_t handle = nullptr;
  SgemmStridedBatchedFn sgemm = nullptr;
  GemmStridedBatchedExFn gemm_ex = nullptr;
};

// Tried once, at the first GEMM (a device exists by then, which cublasCreate needs).
const Cublas& cublas() {
  static const Cublas c = [] {
    Cublas r;
    for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
      void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (!lib) continue;
      auto create = reinterpret_cast<CreateFn>(dlsym(lib, "cublasCreate_v2"));
      auto sgemm = reinterpret_cast<SgemmStridedBatchedFn>(dlsym(lib, "cublasSgemmStridedBatched"));
      auto gemm_ex = reinterpret_cast<GemmStridedBatchedExFn>(dlsym(lib, "cublasGemmStridedBatchedEx"));
      cublasHandle_t h = nullptr;
      if (create && sgemm && create(&h) == 0) { r.handle = h; r.sgemm = sgemm; r.gemm_ex = gemm_ex; break; }
      dlclose(lib);
    }
    return r;
  }();
  return c;
}

bool cublas_allowed() {
  const char* e = std::getenv("STELLAR_CUBLAS");
  return !(e && e[0] == '0');
}

bool fits_int(std::initializer_list<int64_t> v) {
  for (int64_t x : v) if (x < 0 || x > INT_MAX) return false;
  return true;
}

// Row-major C (M, N) = A B is column-major C^T (N, M) = B^T A^T: swap the operands and their roles.
bool gemm_cublas(const TDesc& A, const TDesc& B, const TDesc& C, const MatView& va, const MatView& vb,
                 int64_t batch, int64_t M, int64_t N, int64_t K, int64_t ldc, float alpha, float beta, bool bf16) {
  if (!cublas_allowed()) return false;
  const Cublas& cb = cublas();
  if (!cb.handle || (bf16 && !cb.gemm_ex)) return false;
  if (!fits_int({M, N, K, va.ld, vb.ld, ldc, batch})) return false;
  int opa = vb.trans ? kOpT : kOpN, opb = va.trans ? kOpT : kOpN;
  cublasStatus_t st;
  if (bf16) {
    st = cb.gemm_ex(cb.handle, opa, opb, int(N), int(M), int(K), &alpha, B.base, kR16BF, int(vb.ld), vb.bstride,
                    A.base, kR16BF, int(va.ld), va.bstride, &beta, C.base, kR32F, int(ldc), C.strides[0], int(batch),
                    kCompute32F, kGemmDefault);
  } else {
    st = cb.sgemm(cb.handle, opa, opb, int(N), int(M), int(K), &alpha, B.ptr<float>(), int(vb.ld), vb.bstride,
                  A.ptr<float>(), int(va.ld), va.bstride, &beta, C.ptr<float>(), int(ldc), C.strides[0], int(batch));
  }
  return st == 0;  // e.g. NOT_SUPPORTED for bf16 on an old GPU: fall back to our kernel
}

// ---- Fallback: 64x64 output tiles, K in steps of 16, 256 threads each computing a 4x4 block.
constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, kThreads = 256;

__device__ __forceinline__ float load_elem(const float* p, int64_t off) { return p[off]; }
__device__ __forceinline__ float load_elem(const uint16_t* p, int64_t off) { return bf16_to_f32(p[off]); }

template <class T>
struct TiledArgs {
  const T* a; const T* b; float* c;
  int64_t batch, M, N, K;
  int64_t sa0, sa1, sa2, sb0, sb1, sb2, sc0, sc1;  // element strides (batch, row, col); any layout works
  float alpha, beta;
};

template <class T>
__global__ void gemm_tiled_kernel(TiledArgs<T> g) {
  __shared__ float As[BK][BM + 4];
  __shared__ float Bs[BK][BN + 4];
  const int tid = threadIdx.x, tx = tid % (BN / TN), ty = tid / (BN / TN);
  const int64_t tiles_m = (g.M + BM - 1) / BM;
  for (int64_t bz = blockIdx.z; bz < g.batch; bz += gridDim.z) {
    for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      const int64_t row0 = tm * BM, col0 = static_cast<int64_t>(blockIdx.x) * BN;
      const T* a = g.a + bz * g.sa0;
      const T* b = g.b + bz * g.sb0;
      float acc[TM][TN];
      for (int i = 0; i < TM; ++i) for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;
      for (int64_t k0 = 0; k0 < g.K; k0 += BK) {
        for (int l = 0; l < BM * BK / kThreads; ++l) {  // A tile, k fastest (coalesced for row-major A)
          int e = tid + kThreads * l, i = e / BK, kk = e % BK;
          int64_t gi = row0 + i, gk = k0 + kk;
          As[kk][i] = gi < g.M && gk < g.K ? load_elem(a, gi * g.sa1 + gk * g.sa2) : 0.f;
        }
        for (int l = 0; l < BK * BN / kThreads; ++l) {  // B tile, n fastest (coalesced for row-major B)
          int e = tid + kThreads * l, kk = e / BN, j = e % BN;
          int64_t gk = k0 + kk, gj = col0 + j;
          Bs[kk][j] = gk < g.K && gj < g.N ? load_elem(b, gk * g.sb1 + gj * g.sb2) : 0.f;
        }
        __syncthreads();
        for (int kk = 0; kk < BK; ++kk) {
          float av[TM], bv[TN];
          for (int i = 0; i < TM; ++i) av[i] = As[kk][ty * TM + i];
          for (int j = 0; j < TN; ++j) bv[j] = Bs[kk][tx * TN + j];
          for (int i = 0; i < TM; ++i) for (int j = 0; j < TN; ++j) acc[i][j] += av[i] * bv[j];
        }
        __syncthreads();
      }
      float* c = g.c + bz * g.sc0;
      for (int i = 0; i < TM; ++i) {
        int64_t gi = row0 + ty * TM + i;
        if (gi >= g.M) continue;
        for (int j = 0; j < TN; ++j) {
          int64_t gj = col0 + tx * TN + j;
          if (gj >= g.N) continue;
          float* cp = c + gi * g.sc1 + gj;
          *cp = g.beta == 0.f ? g.alpha * acc[i][j] : g.alpha * acc[i][j] + g.beta * *cp;  // beta 0 never reads C
        }
      }
    }
  }
}

template <class T>
void gemm_tiled(const TDesc& A, const TDesc& B, const TDesc& C, int64_t batch, int64_t M, int64_t N, int64_t K,
                float alpha, float beta) {
  TiledArgs<T> g{A.ptr<T>(), B.ptr<T>(), C.ptr<float>(), batch, M, N, K,
                 A.strides[0], A.strides[1], A.strides[2], B.strides[0], B.strides[1], B.strides[2],
                 C.strides[0], C.strides[1], alpha, beta};
  dim3 grid(static_cast<unsigned>((N + BN - 1) / BN), static_cast<unsigned>(std::min<int64_t>((M + BM - 1) / BM, 65535)),
            static_cast<unsigned>(std::min<int64_t>(batch, 65535)));
  STELLAR_LAUNCH(grid, kThreads, gemm_tiled_kernel<T>)(g);
}

}  // namespace

// C = alpha * A @ B + beta * C. args: alpha, beta, A, B, C (see shared/kernel_args/gemm.h)
STELLAR_KERNEL("cuda/gemm", a) {
  const GemmArgs g = read_gemm_args(a, Device::CUDA);
  const TDesc &A = g.A, &B = g.B, &C = g.C;
  const int64_t batch = g.batch, M = g.M, N = g.N, K = g.K;
  const float alpha = g.alpha, beta = g.beta;
  if (M == 0 || N == 0 || batch == 0) return;
  if (gemm_cublas(A, B, C, g.va, g.vb, batch, M, N, K, g.ldc, alpha, beta, g.bf16)) return;
  if (g.bf16) gemm_tiled<uint16_t>(A, B, C, batch, M, N, K, alpha, beta);
  else gemm_tiled<float>(A, B, C, batch, M, N, K, alpha, beta);
  cu::launched("cuda/gemm");
}

}  // namespace stellar
