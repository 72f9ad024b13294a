// Core types shared by every native kernel: dtypes, errors, tensor descriptors and the argument reader.
#pragma once
#include <cstdint>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace stellar {

// U8 is the storage of 'bool' (0/1); I8 is signed two's-complement int8 (quantized weights).
enum class DType : int { F32 = 0, BF16 = 1, F16 = 2, I32 = 3, I64 = 4, U8 = 5, I8 = 6 };
constexpr int kMaxDTypeCode = 6;
enum class Device : int { CPU = 0, CUDA = 1 };

inline size_t dtype_size(DType d) {
  switch (d) {
    case DType::F32: case DType::I32: return 4;
    case DType::BF16: case DType::F16: return 2;
    case DType::I64: return 8;
    case DType::U8: case DType::I8: return 1;
  }
  return 0;
}
const char* dtype_name(DType d);

// Thrown by kernels; the addon turns it into a JS Error whose `code` is set.
struct Error : std::runtime_error {
  std::string code;
  Error(const std::string& msg, const std::string& c = "ERR_STELLAR_NATIVE") : std::runtime_error(msg), code(c) {}
};

#define STELLAR_CHECK(cond, msg) \
  do { if (!(cond)) throw ::stellar::Error(std::string(msg)); } while (0)

constexpr int kMaxDims = 8;

// A strided view of a buffer: what every kernel receives for each tensor argument.
struct TDesc {
  char* base = nullptr;     // start of the view (buffer pointer + offset * element size)
  DType dtype = DType::F32;
  Device device = Device::CPU;
  int ndim = 0;
  int64_t shape[kMaxDims] = {0};
  int64_t strides[kMaxDims] = {0};  // in elements
  int64_t numel = 1;

  template <typename T> T* ptr() const { return reinterpret_cast<T*>(base); }
  bool contiguous() const {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; --d) {
      if (shape[d] != 1 && strides[d] != s) return false;
      s *= shape[d];
    }
    return true;
  }
  // Offset in elements of the flat (row-major) index i.
  int64_t offset_of(int64_t i) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t n = shape[d];
      off += (i % n) * strides[d];
      i /= n;
    }
    return off;
  }
};

// Reads the packed Float64Array the JS side writes for one kernel call.
// Layout of a tensor argument: handle, dtype, offset, ndim, shape[ndim], strides[ndim].
class ArgReader {
 public:
  ArgReader(const double* data, size_t n) : d_(data), n_(n) {}
  int64_t i() { need(1); return static_cast<int64_t>(d_[p_++]); }
  double f() { need(1); return d_[p_++]; }
  bool b() { return i() != 0; }
  TDesc t();
  size_t remaining() const { return n_ - p_; }
 private:
  void need(size_t k) { if (p_ + k > n_) throw Error("kernel argument list too short"); }
  const double* d_;
  size_t n_;
  size_t p_ = 0;
};

}  // namespace stellar
