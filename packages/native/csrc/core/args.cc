// Decoding of tensor arguments from the packed argument array, with bounds checks against the buffer.
#include "common.h"
#include "buffers.h"

namespace stellar {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "float32"; case DType::BF16: return "bfloat16"; case DType::F16: return "float16";
    case DType::I32: return "int32"; case DType::I64: return "int64"; case DType::U8: return "bool";
    case DType::I8: return "int8";
  }
  return "?";
}

TDesc ArgReader::t() {
  TDesc t;
  int64_t h = i();
  int64_t dt = i();
  if (dt < 0 || dt > kMaxDTypeCode) throw Error("bad dtype code " + std::to_string(dt));
  t.dtype = static_cast<DType>(dt);
  int64_t offset = i();
  t.ndim = static_cast<int>(i());
  if (t.ndim < 0 || t.ndim > kMaxDims) throw Error("tensor rank out of range: " + std::to_string(t.ndim));
  need(2 * t.ndim);
  t.numel = 1;
  for (int k = 0; k < t.ndim; ++k) { t.shape[k] = static_cast<int64_t>(d_[p_++]); t.numel *= t.shape[k]; }
  for (int k = 0; k < t.ndim; ++k) t.strides[k] = static_cast<int64_t>(d_[p_++]);
  size_t nbytes = 0;
  char* p = buffer_ptr(h, &t.device, &nbytes);
  // Every element the view can touch must lie inside the buffer.
  int64_t lo = offset, hi = offset;
  if (t.numel > 0) {
    for (int k = 0; k < t.ndim; ++k) {
      int64_t span = (t.shape[k] - 1) * t.strides[k];
      if (span > 0) hi += span; else lo += span;
    }
    int64_t es = static_cast<int64_t>(dtype_size(t.dtype));
    if (lo < 0 || (hi + 1) * es > static_cast<int64_t>(nbytes))
      throw Error("tensor view reaches outside its buffer", "ERR_OUT_OF_BOUNDS");
  }
  t.base = p + offset * static_cast<int64_t>(dtype_size(t.dtype));
  return t;
}

}  // namespace stellar
