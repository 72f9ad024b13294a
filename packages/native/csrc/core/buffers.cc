// Handle table + caching allocator. Blocks are rounded to size classes and kept on free lists for reuse,
// so training loops that allocate the same shapes each step stop hitting malloc after the first step.
#include "buffers.h"
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace stellar {
namespace {

struct Block { char* ptr; size_t size; Device dev; };

std::mutex g_mu;
std::vector<Block> g_slots;            // handle -> block (ptr == nullptr when free)
std::vector<int64_t> g_free_handles;
std::map<std::pair<int, size_t>, std::vector<char*>> g_cache;  // (device, size) -> blocks
MemStats g_stats;
DeviceAllocator g_dev_alloc[2] = {{nullptr, nullptr}, {nullptr, nullptr}};
size_t g_cache_limit = 0;

size_t cache_limit() {
  if (!g_cache_limit) {
    const char* e = std::getenv("STELLAR_CACHE_LIMIT_MB");
    g_cache_limit = (e ? std::strtoull(e, nullptr, 10) : 4096ull) << 20;
  }
  return g_cache_limit;
}

// Size classes: 512 B granularity below 1 MiB, 1 MiB granularity below 64 MiB, 8 MiB above.
size_t round_size(size_t n) {
  if (n == 0) n = 1;
  size_t g = n < (1u << 20) ? 512 : n < (64u << 20) ? (1u << 20) : (8u << 20);
  return (n + g - 1) / g * g;
}

char* raw_alloc(size_t size, Device dev) {
  if (dev == Device::CPU) {
    void* p = std::aligned_alloc(64, size);
    if (!p) throw Error("out of host memory allocating " + std::to_string(size) + " bytes", "ERR_OUT_OF_MEMORY");
    return static_cast<char*>(p);
  }
  auto& a = g_dev_alloc[static_cast<int>(dev)];
  if (!a.alloc) throw Error("this build of @stellar/native has no CUDA support or no CUDA device", "ERR_CUDA_UNAVAILABLE");
  return static_cast<char*>(a.alloc(size));
}

void raw_free(char* p, Device dev) {
  if (dev == Device::CPU) std::free(p);
  else g_dev_alloc[static_cast<int>(dev)].free(p);
}

}  // namespace

void register_device_allocator(Device dev, DeviceAllocator a) {
  std::lock_guard<std::mutex> l(g_mu);
  g_dev_alloc[static_cast<int>(dev)] = a;
}

int64_t buffer_alloc(size_t nbytes, Device dev) {
  size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> l(g_mu);
  g_stats.allocs++;
  char* p = nullptr;
  auto it = g_cache.find({static_cast<int>(dev), size});
  if (it != g_cache.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    g_stats.cached_bytes -= size;
    g_stats.cache_hits++;
  } else {
    p = raw_alloc(size, dev);
  }
  int64_t h;
  if (!g_free_handles.empty()) { h = g_free_handles.back(); g_free_handles.pop_back(); }
  else { h = static_cast<int64_t>(g_slots.size()) + 1; g_slots.push_back({}); }
  g_slots[h - 1] = {p, size, dev};
  g_stats.live_bytes += size;
  g_stats.live_buffers++;
  if (g_stats.live_bytes > g_stats.peak_bytes) g_stats.peak_bytes = g_stats.live_bytes;
  return h;
}

void buffer_free(int64_t h) {
  std::lock_guard<std::mutex> l(g_mu);
  if (h <= 0 || h > static_cast<int64_t>(g_slots.size()) || !g_slots[h - 1].ptr)
    throw Error("free of unknown or already freed buffer handle " + std::to_string(h), "ERR_BAD_HANDLE");
  Block b = g_slots[h - 1];
  g_slots[h - 1] = {};
  g_free_handles.push_back(h);
  g_stats.live_bytes -= b.size;
  g_stats.live_buffers--;
  if (static_cast<size_t>(g_stats.cached_bytes) + b.size <= cache_limit()) {
    g_cache[{static_cast<int>(b.dev), b.size}].push_back(b.ptr);
    g_stats.cached_bytes += b.size;
  } else {
    raw_free(b.ptr, b.dev);
  }
}

char* buffer_ptr(int64_t h, Device* dev, size_t* nbytes) {
  std::lock_guard<std::mutex> l(g_mu);
  if (h <= 0 || h > static_cast<int64_t>(g_slots.size()) || !g_slots[h - 1].ptr)
    throw Error("unknown buffer handle " + std::to_string(h), "ERR_BAD_HANDLE");
  const Block& b = g_slots[h - 1];
  if (dev) *dev = b.dev;
  if (nbytes) *nbytes = b.size;
  return b.ptr;
}

MemStats mem_stats() { std::lock_guard<std::mutex> l(g_mu); return g_stats; }
void reset_peak() { std::lock_guard<std::mutex> l(g_mu); g_stats.peak_bytes = g_stats.live_bytes; }

void empty_cache() {
  std::lock_guard<std::mutex> l(g_mu);
  for (auto& kv : g_cache)
    for (char* p : kv.second) raw_free(p, static_cast<Device>(kv.first.first));
  g_cache.clear();
  g_stats.cached_bytes = 0;
}

}  // namespace stellar
