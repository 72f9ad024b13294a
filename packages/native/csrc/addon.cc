// The N-API surface of @stellar/native: integer buffer handles, byte I/O, and kernel execution by id.
// Kept deliberately narrow; everything tensor-shaped lives in TypeScript.
#include <napi.h>
#include <cstring>
#include "core/buffers.h"
#include "core/registry.h"
#include "core/simd.h"
#include "core/threadpool.h"
#include "cuda/cuda_api.h"

using namespace stellar;

namespace {

Napi::Value Throw(const Napi::Env& env, const Error& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, e.code));
  throw err;
}

template <typename F>
Napi::Value Guard(const Napi::CallbackInfo& info, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    return Throw(info.Env(), e);
  } catch (const std::bad_alloc&) {
    return Throw(info.Env(), Error("out of memory", "ERR_OUT_OF_MEMORY"));
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    return Throw(info.Env(), Error(e.what()));
  }
}

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    double n = info[0].As<Napi::Number>().DoubleValue();
    int dev = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
    if (!(n >= 0) || n > 1e15) throw Error("invalid allocation size");
    if (dev == 1) cuda_require_device();
    return Napi::Number::New(info.Env(), static_cast<double>(buffer_alloc(static_cast<size_t>(n), static_cast<Device>(dev))));
  });
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    buffer_free(info[0].As<Napi::Number>().Int64Value());
    return info.Env().Undefined();
  });
}

// write(handle, byteOffset, typedArray)
Napi::Value Write(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    int64_t h = info[0].As<Napi::Number>().Int64Value();
    int64_t off = info[1].As<Napi::Number>().Int64Value();
    Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
    size_t n = ta.ByteLength();
    const char* src = static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    Device dev; size_t cap;
    char* dst = buffer_ptr(h, &dev, &cap);
    if (off < 0 || static_cast<size_t>(off) + n > cap) throw Error("write past the end of the buffer", "ERR_OUT_OF_BOUNDS");
    if (dev == Device::CPU) std::memcpy(dst + off, src, n);
    else cuda_copy_to_device(dst + off, src, n);
    return info.Env().Undefined();
  });
}

// readInto(handle, byteOffset, typedArray)
Napi::Value ReadInto(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    int64_t h = info[0].As<Napi::Number>().Int64Value();
    int64_t off = info[1].As<Napi::Number>().Int64Value();
    Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
    size_t n = ta.ByteLength();
    char* dst = static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    Device dev; size_t cap;
    const char* src = buffer_ptr(h, &dev, &cap);
    if (off < 0 || static_cast<size_t>(off) + n > cap) throw Error("read past the end of the buffer", "ERR_OUT_OF_BOUNDS");
    if (dev == Device::CPU) std::memcpy(dst, src + off, n);
    else cuda_copy_to_host(dst, src + off, n);
    return info.Env().Undefined();
  });
}

Napi::Value KernelId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), kernel_id(info[0].As<Napi::String>().Utf8Value()));
}

Napi::Value Kernels(const Napi::CallbackInfo& info) {
  auto names = kernel_names();
  Napi::Array a = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(static_cast<uint32_t>(i), names[i]);
  return a;
}

// exec(kernelId, args: Float64Array)
Napi::Value Exec(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    int id = info[0].As<Napi::Number>().Int32Value();
    KernelFn fn = kernel_fn(id);
    if (!fn) throw Error("unknown kernel id " + std::to_string(id));
    Napi::Float64Array a = info[1].As<Napi::Float64Array>();
    ArgReader r(a.Data(), a.ElementLength());
    fn(r);
    return info.Env().Undefined();
  });
}

Napi::Value MemStatsJs(const Napi::CallbackInfo& info) {
  MemStats s = mem_stats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveBytes", static_cast<double>(s.live_bytes));
  o.Set("peakBytes", static_cast<double>(s.peak_bytes));
  o.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  o.Set("liveBuffers", static_cast<double>(s.live_buffers));
  o.Set("allocs", static_cast<double>(s.allocs));
  o.Set("cacheHits", static_cast<double>(s.cache_hits));
  return o;
}

Napi::Value ResetPeak(const Napi::CallbackInfo& info) { reset_peak(); return info.Env().Undefined(); }
Napi::Value EmptyCache(const Napi::CallbackInfo& info) { empty_cache(); return info.Env().Undefined(); }
Napi::Value NumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value Features(const Napi::CallbackInfo& info) {
  CpuFeatures f = cpu_features();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("avx2", f.avx2); o.Set("fma", f.fma); o.Set("f16c", f.f16c);
  o.Set("avx512f", f.avx512f); o.Set("avx512bw", f.avx512bw);
  o.Set("avx512bf16", f.avx512bf16); o.Set("avx512vnni", f.avx512vnni);
  return o;
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cudaCompiled", cuda_compiled());
  o.Set("blas", "openblas");
  return o;
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), cuda_device_count()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("alloc", Napi::Function::New(env, Alloc));
  exports.Set("free", Napi::Function::New(env, Free));
  exports.Set("write", Napi::Function::New(env, Write));
  exports.Set("readInto", Napi::Function::New(env, ReadInto));
  exports.Set("kernelId", Napi::Function::New(env, KernelId));
  exports.Set("kernels", Napi::Function::New(env, Kernels));
  exports.Set("exec", Napi::Function::New(env, Exec));
  exports.Set("memStats", Napi::Function::New(env, MemStatsJs));
  exports.Set("resetPeak", Napi::Function::New(env, ResetPeak));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("cpuFeatures", Napi::Function::New(env, Features));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount));
  return exports;
}

}  // namespace

// NODE_API_MODULE registers through napi_module_register's context-aware path, so workers can load it.
NODE_API_MODULE(stellar_native, Init)
