// The internal thread pool used by CPU kernels (size from STELLAR_NUM_THREADS, default = cores).
#pragma once
#include <cstdint>
#include <functional>

namespace stellar {

int num_threads();
void set_num_threads(int n);
// Splits [0, n) into contiguous chunks of at least `grain` items and runs fn(begin, end) on the pool.
// Runs inline when the range is small, the pool has one thread, or the caller is already a pool task.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace stellar
