// Storage for the kernel registry (filled by static initializers in each kernel file).
#include "registry.h"
#include <unordered_map>

namespace stellar {
namespace {
struct Reg { std::vector<std::string> names; std::vector<KernelFn> fns; std::unordered_map<std::string, int> ids; };
Reg& reg() { static Reg* r = new Reg(); return *r; }
}  // namespace

int register_kernel(const char* name, KernelFn fn) {
  Reg& r = reg();
  if (r.ids.count(name)) return r.ids[name];
  int id = static_cast<int>(r.fns.size());
  r.names.push_back(name);
  r.fns.push_back(fn);
  r.ids[name] = id;
  return id;
}
int kernel_id(const std::string& name) { auto it = reg().ids.find(name); return it == reg().ids.end() ? -1 : it->second; }
KernelFn kernel_fn(int id) { return id >= 0 && id < static_cast<int>(reg().fns.size()) ? reg().fns[id] : nullptr; }
std::vector<std::string> kernel_names() { return reg().names; }

}  // namespace stellar
