// CUDA entry points for builds without nvcc: every request for a device fails with ERR_CUDA_NOT_COMPILED.
#include "cuda_api.h"
#include "../core/common.h"

namespace stellar {
bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
void cuda_require_device() {
  throw Error("@stellar/native was built without CUDA (nvcc was not found at build time, or STELLAR_NO_CUDA=1): "
              "use device 'cpu', or rebuild with the CUDA toolkit installed (see packages/native/CUDA.md)", "ERR_CUDA_NOT_COMPILED");
}
void cuda_copy_to_device(void*, const void*, size_t) { cuda_require_device(); }
void cuda_copy_to_host(void*, const void*, size_t) { cuda_require_device(); }
}  // namespace stellar
