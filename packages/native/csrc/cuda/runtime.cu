// CUDA runtime glue (implements cuda_api.h): device discovery, the typed "no device" error,
// host<->device copies, and the device allocator that the caching buffer table uses for Device::CUDA.
#include <mutex>
#include <string>
#include "cuda_api.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

struct Probe { int count = 0; cudaError_t err = cudaSuccess; };

// cudaGetDeviceCount fails (no driver / no device) on machines without a GPU; that is a normal state.
const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    r.err = cudaGetDeviceCount(&r.count);
    if (r.err != cudaSuccess) { r.count = 0; cudaGetLastError(); }
    return r;
  }();
  return p;
}

void* dev_alloc(size_t n) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error("CUDA out of memory allocating " + std::to_string(n) + " bytes (" + cudaGetErrorString(e) +
                "); empty the cache or use smaller batches", "ERR_OUT_OF_MEMORY");
  }
  return p;
}
void dev_free(void* p) { cudaFree(p); }

}  // namespace

namespace cu {
void fail(cudaError_t e, const char* what) {
  cudaGetLastError();  // clear non-sticky errors so the next call starts clean
  throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")",
              "ERR_CUDA_RUNTIME");
}
}  // namespace cu

bool cuda_compiled() { return true; }
int cuda_device_count() { return probe().count; }

void cuda_require_device() {
  const Probe& p = probe();
  if (p.count <= 0) {
    std::string why = p.err != cudaSuccess ? std::string(cudaGetErrorName(p.err)) + ": " + cudaGetErrorString(p.err)
                                           : "the runtime reports 0 devices";
    throw Error("CUDA is unavailable: @stellar/native was built with CUDA, but no usable GPU was found (" + why +
                "). Use device 'cpu', or check the NVIDIA driver and CUDA_VISIBLE_DEVICES.", "ERR_CUDA_UNAVAILABLE");
  }
  static std::once_flag once;
  std::call_once(once, [] { register_device_allocator(Device::CUDA, {dev_alloc, dev_free}); });
}

void cuda_copy_to_device(void* dst, const void* src, size_t n) {
  cuda_require_device();
  if (n) STELLAR_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice));
}

void cuda_copy_to_host(void* dst, const void* src, size_t n) {
  cuda_require_device();
  if (n) STELLAR_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost));
}

}  // namespace stellar
