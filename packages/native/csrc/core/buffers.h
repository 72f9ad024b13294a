// Native buffers: a handle table over a caching allocator with live-byte accounting.
#pragma once
#include <cstddef>
#include <cstdint>
#include "common.h"

namespace stellar {

struct MemStats {
  int64_t live_bytes = 0;    // bytes held by live buffers (rounded block sizes)
  int64_t peak_bytes = 0;    // high-water mark of live_bytes
  int64_t cached_bytes = 0;  // freed blocks kept for reuse
  int64_t live_buffers = 0;
  int64_t allocs = 0;        // allocation requests
  int64_t cache_hits = 0;    // requests served from the cache
};

int64_t buffer_alloc(size_t nbytes, Device dev);
void buffer_free(int64_t handle);
char* buffer_ptr(int64_t handle, Device* dev = nullptr, size_t* nbytes = nullptr);
MemStats mem_stats();
void reset_peak();
void empty_cache();

// Device allocators plug in here (CUDA registers itself when compiled and a device exists).
struct DeviceAllocator {
  void* (*alloc)(size_t);
  void (*free)(void*);
};
void register_device_allocator(Device dev, DeviceAllocator a);

}  // namespace stellar
