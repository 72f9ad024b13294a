// CUDA twins of cpu/copy.cc: strided copy with dtype conversion, fill and arange. Conversions go
// through shared/dtype_io.h so casts round exactly as on the CPU.
#include "../shared/dtype_io.h"
#include "cuda_common.cuh"

namespace stellar {
namespace {

using cu::DevIter;

// Same dtype: move elements as raw words of their size.
template <class W>
__global__ void copy_same_kernel(DevIter<2> it, int64_t n, const W* s, W* d) {
  STELLAR_GRID_LOOP(i, n) {
    int64_t off[2];
    it.offsets(i, off);
    d[off[1]] = s[off[0]];
  }
}

__global__ void copy_convert_kernel(DevIter<2> it, int64_t n, const char* s, DType st, int es, char* d, DType dt, int ed) {
  STELLAR_GRID_LOOP(i, n) {
    int64_t off[2];
    it.offsets(i, off);
    store_from_double(dt, d + off[1] * ed, load_as_double(st, s + off[0] * es));
  }
}

__global__ void fill_kernel(DevIter<1> it, int64_t n, char* d, DType dt, int ed, double v) {
  STELLAR_GRID_LOOP(i, n) {
    int64_t off[1];
    it.offsets(i, off);
    store_from_double(dt, d + off[0] * ed, v);
  }
}

__global__ void arange_kernel(cu::DevView v, int64_t n, char* d, DType dt, int ed, double start, double step) {
  STELLAR_GRID_LOOP(i, n) store_from_double(dt, d + v.offset_of(i) * ed, start + step * static_cast<double>(i));
}

template <class W>
void copy_same(const DevIter<2>& it, int64_t n, const TDesc& s, const TDesc& d) {
  STELLAR_LAUNCH(cu::blocks_for(n), cu::kBlock, copy_same_kernel<W>)(it, n, s.ptr<W>(), d.ptr<W>());
}

}  // namespace

// args: src, dst (same shape; any dtypes)
STELLAR_KERNEL("cuda/copy", a) {
  TDesc s = a.t(), d = a.t();
  cu::require_device("cuda/copy", {&s, &d});
  STELLAR_CHECK(s.numel == d.numel, "copy: element counts differ");
  if (d.numel == 0) return;
  DevIter<2> it = cu::make_iter<2>(d, {&s, &d});
  int64_t n = d.numel;
  if (s.dtype == d.dtype) {
    switch (dtype_size(s.dtype)) {
      case 1: copy_same<uint8_t>(it, n, s, d); break;
      case 2: copy_same<uint16_t>(it, n, s, d); break;
      case 4: copy_same<uint32_t>(it, n, s, d); break;
      default: copy_same<unsigned long long>(it, n, s, d); break;
    }
  } else {
    STELLAR_LAUNCH(cu::blocks_for(n), cu::kBlock, copy_convert_kernel)(
        it, n, s.base, s.dtype, static_cast<int>(dtype_size(s.dtype)), d.base, d.dtype, static_cast<int>(dtype_size(d.dtype)));
  }
  cu::launched("cuda/copy");
}

// args: value, dst
STELLAR_KERNEL("cuda/fill", a) {
  double v = a.f();
  TDesc d = a.t();
  cu::require_device("cuda/fill", {&d});
  if (d.numel == 0) return;
  DevIter<1> it = cu::make_iter<1>(d, {&d});
  STELLAR_LAUNCH(cu::blocks_for(d.numel), cu::kBlock, fill_kernel)(it, d.numel, d.base, d.dtype, static_cast<int>(dtype_size(d.dtype)), v);
  cu::launched("cuda/fill");
}

// dst[i] = start + i * step (flat index i of the view). args: start, step, dst
STELLAR_KERNEL("cuda/arange", a) {
  double start = a.f(), step = a.f();
  TDesc d = a.t();
  cu::require_device("cuda/arange", {&d});
  if (d.numel == 0) return;
  STELLAR_LAUNCH(cu::blocks_for(d.numel), cu::kBlock, arange_kernel)(cu::dev_view(d), d.numel, d.base, d.dtype,
                                                                     static_cast<int>(dtype_size(d.dtype)), start, step);
  cu::launched("cuda/arange");
}

}  // namespace stellar
