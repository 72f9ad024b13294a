// Host-side device check used by every argument reader in kernel_args/ (and by cu::require_device).
#pragma once
#include <initializer_list>
#include <string>
#include "../../core/common.h"

namespace stellar {

// CUDA kernels refuse tensors that do not live on the device. CPU kernels trust the JS dispatcher,
// which hands them host tensors only, so dev == Device::CPU checks nothing.
inline void require_on(Device dev, const char* kernel, std::initializer_list<const TDesc*> ts) {
  if (dev != Device::CUDA) return;
  for (const TDesc* t : ts)
    if (t->device != Device::CUDA)
      throw Error(std::string(kernel) + ": every tensor argument of a CUDA kernel must live on the CUDA device",
                  "ERR_DEVICE_MISMATCH");
}

}  // namespace stellar
