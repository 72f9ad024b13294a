// Kernel registry: each backend registers kernels by name ("cpu/unary", "cuda/unary"); JS looks them up once.
#pragma once
#include <string>
#include <vector>
#include "common.h"

namespace stellar {

using KernelFn = void (*)(ArgReader&);
int register_kernel(const char* name, KernelFn fn);
int kernel_id(const std::string& name);  // -1 when absent
KernelFn kernel_fn(int id);
std::vector<std::string> kernel_names();

}  // namespace stellar

#define STELLAR_CONCAT_(a, b) a##b
#define STELLAR_CONCAT(a, b) STELLAR_CONCAT_(a, b)
// Defines and registers a kernel: STELLAR_KERNEL("cpu/unary", args) { ... }
#define STELLAR_KERNEL(name, argname)                                                        \
  static void STELLAR_CONCAT(stellar_kernel_, __LINE__)(::stellar::ArgReader & argname);    \
  static int STELLAR_CONCAT(stellar_kernel_reg_, __LINE__) =                                 \
      ::stellar::register_kernel(name, &STELLAR_CONCAT(stellar_kernel_, __LINE__));          \
  static void STELLAR_CONCAT(stellar_kernel_, __LINE__)(::stellar::ArgReader & argname)
