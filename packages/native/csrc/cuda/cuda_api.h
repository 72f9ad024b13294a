// The host-side CUDA surface seen by the rest of the addon. Without nvcc, cuda_stub.cc implements it
// so that asking for a CUDA buffer raises a typed error instead of crashing.
#pragma once
#include <cstddef>

namespace stellar {
bool cuda_compiled();
int cuda_device_count();            // 0 when not compiled or no device
void cuda_require_device();         // throws Error{code: ERR_CUDA_NOT_COMPILED | ERR_CUDA_UNAVAILABLE}
void cuda_copy_to_device(void* dst, const void* src, size_t n);
void cuda_copy_to_host(void* dst, const void* src, size_t n);
}  // namespace stellar
