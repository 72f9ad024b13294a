// Data-parallel collectives over MPI, loaded at run time with dlopen so the addon neither links
// against nor needs the headers of an MPI library. Open MPI only (its handles are global symbols).
// Outside mpirun every call behaves as a world of size 1 and MPI is never touched.
// Kernels are registered as "mpi/<name>", not "cpu/<name>": host-side collectives with no CUDA twin.
#include <dlfcn.h>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include "core/registry.h"

namespace stellar {
namespace {

// Open MPI's MPI_Comm / MPI_Datatype / MPI_Op are pointers to predefined global objects.
using Handle = void*;

struct Mpi {
  bool tried = false;
  void* lib = nullptr;
  std::string why;  // why the library is unusable, for the error message
  int (*Init_thread)(int*, char***, int, int*) = nullptr;
  int (*Initialized)(int*) = nullptr;
  int (*Finalized)(int*) = nullptr;
  int (*Finalize)() = nullptr;
  int (*Comm_rank)(Handle, int*) = nullptr;
  int (*Comm_size)(Handle, int*) = nullptr;
  int (*Allreduce)(const void*, void*, int, Handle, Handle, Handle) = nullptr;
  int (*Bcast)(void*, int, Handle, int, Handle) = nullptr;
  int (*Barrier)(Handle) = nullptr;
  int (*Error_string)(int, char*, int*) = nullptr;
  Handle comm_world = nullptr, t_float = nullptr, t_double = nullptr, t_byte = nullptr, op_sum = nullptr;
  bool inited = false;    // MPI_Init_thread was called by us
  bool finalized = false;
  int rank = 0, size = 1;
};

Mpi& mpi() {
  static Mpi m;
  return m;
}

constexpr int kThreadSerialized = 2;  // MPI_THREAD_SERIALIZED in both Open MPI and MPICH

// mpirun / srun / hydra set these in every rank they start.
bool launched_by_mpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
}

template <typename F>
bool sym(void* lib, const char* name, F& out) {
  out = reinterpret_cast<F>(dlsym(lib, name));
  return out != nullptr;
}

// Tries to dlopen libmpi and resolve what we use; remembers the outcome.
bool load() {
  Mpi& m = mpi();
  if (m.tried) return m.lib != nullptr;
  m.tried = true;
  std::vector<std::string> names;
  if (const char* env = std::getenv("STELLAR_MPI_LIBRARY")) names.push_back(env);
  names.insert(names.end(), {"libmpi.so.40", "libmpi.so"});
  void* lib = nullptr;
  for (const auto& n : names) {
    // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve libmpi's symbols from the global scope.
    lib = dlopen(n.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (lib) break;
  }
  if (!lib) { m.why = "libmpi.so not found (install Open MPI: apt-get install openmpi-bin libopenmpi-dev)"; return false; }
  bool ok = sym(lib, "MPI_Init_thread", m.Init_thread) && sym(lib, "MPI_Initialized", m.Initialized) &&
            sym(lib, "MPI_Finalized", m.Finalized) && sym(lib, "MPI_Finalize", m.Finalize) &&
            sym(lib, "MPI_Comm_rank", m.Comm_rank) && sym(lib, "MPI_Comm_size", m.Comm_size) &&
            sym(lib, "MPI_Allreduce", m.Allreduce) && sym(lib, "MPI_Bcast", m.Bcast) &&
            sym(lib, "MPI_Barrier", m.Barrier) && sym(lib, "MPI_Error_string", m.Error_string);
  if (!ok) { m.why = "libmpi.so lacks MPI functions"; dlclose(lib); return false; }
  m.comm_world = dlsym(lib, "ompi_mpi_comm_world");
  m.t_float = dlsym(lib, "ompi_mpi_float");
  m.t_double = dlsym(lib, "ompi_mpi_double");
  m.t_byte = dlsym(lib, "ompi_mpi_byte");
  m.op_sum = dlsym(lib, "ompi_mpi_op_sum");
  if (!m.comm_world || !m.t_float || !m.t_double || !m.t_byte || !m.op_sum) {
    m.why = "the MPI library is not Open MPI (MPICH and others are not supported)";
    dlclose(lib);
    return false;
  }
  m.lib = lib;
  return true;
}

void check(int rc, const char* what) {
  if (rc == 0) return;
  char msg[1024] = {0};
  int len = 0;
  mpi().Error_string(rc, msg, &len);
  throw Error(std::string(what) + " failed: " + msg, "ERR_MPI");
}

// True when collectives must go through MPI (initialized, more than one rank, not finalized).
bool active() {
  const Mpi& m = mpi();
  return m.inited && !m.finalized && m.size > 1;
}

void init() {
  Mpi& m = mpi();
  if (m.inited || !launched_by_mpi()) return;
  if (!load()) throw Error("started by mpirun but MPI is unusable: " + m.why, "ERR_MPI");
  int already = 0;
  m.Initialized(&already);
  if (!already) {
    int provided = 0;
    check(m.Init_thread(nullptr, nullptr, kThreadSerialized, &provided), "MPI_Init_thread");
    // All MPI calls come from the JS thread, one at a time, so FUNNELED would do as well.
    if (provided < 1) throw Error("MPI provides only MPI_THREAD_SINGLE; need at least FUNNELED", "ERR_MPI");
  }
  m.inited = true;
  check(m.Comm_rank(m.comm_world, &m.rank), "MPI_Comm_rank");
  check(m.Comm_size(m.comm_world, &m.size), "MPI_Comm_size");
  // Another implementation's launcher makes Open MPI start as a singleton: every rank would think it
  // is rank 0 of 1 and train alone, so refuse instead.
  const char* want = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!want) want = std::getenv("PMI_SIZE");
  if (want && std::atoi(want) != m.size)
    throw Error("the launcher started " + std::string(want) + " ranks but MPI sees a world of " + std::to_string(m.size) +
                " (is mpirun from another MPI than the loaded libmpi.so?)", "ERR_MPI");
}

void write_state(const TDesc& out) {
  STELLAR_CHECK(out.dtype == DType::I32 && out.numel >= 5 && out.contiguous(), "mpi/state: expected a contiguous int32 tensor of 5 elements");
  const Mpi& m = mpi();
  int32_t* o = out.ptr<int32_t>();
  o[0] = launched_by_mpi() ? 1 : 0;
  o[1] = (m.tried ? m.lib != nullptr : false) ? 1 : 0;
  o[2] = (m.inited && !m.finalized) ? 1 : 0;
  o[3] = m.rank;
  o[4] = m.size;
}

// Sums `count` elements of `dt` from send into recv, in pieces an int count can address.
void allreduce_chunked(const char* send, char* recv, int64_t count, Handle dt, size_t es) {
  const int64_t kMax = int64_t(1) << 30;
  for (int64_t done = 0; done < count;) {
    int n = static_cast<int>(std::min(kMax, count - done));
    check(mpi().Allreduce(send + done * es, recv + done * es, n, dt, mpi().op_sum, mpi().comm_world), "MPI_Allreduce");
    done += n;
  }
}

std::vector<TDesc> read_tensors(ArgReader& a, const char* what) {
  int64_t n = a.i();
  STELLAR_CHECK(n >= 0, std::string(what) + ": negative tensor count");
  std::vector<TDesc> ts;
  ts.reserve(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    TDesc t = a.t();
    STELLAR_CHECK(t.device == Device::CPU, std::string(what) + ": only CPU tensors are supported");
    STELLAR_CHECK(t.contiguous(), std::string(what) + ": tensors must be contiguous");
    ts.push_back(t);
  }
  return ts;
}

}  // namespace

// mpi/state(out int32[5]): [launchedByMpirun, libraryLoaded, initialized, rank, size]; also probes the library.
STELLAR_KERNEL("mpi/state", a) {
  TDesc out = a.t();
  load();
  write_state(out);
}

// mpi/init(out int32[5]): MPI_Init_thread once when started by mpirun (a no-op otherwise), then the state.
STELLAR_KERNEL("mpi/init", a) {
  TDesc out = a.t();
  init();
  write_state(out);
}

// mpi/allreduce_f32(scale, n, t_1..t_n): every float32 tensor becomes scale * (sum over ranks), in place.
// Tensors are packed into buckets so a model's many small gradients cost few collective calls.
STELLAR_KERNEL("mpi/allreduce_f32", a) {
  float scale = static_cast<float>(a.f());
  std::vector<TDesc> ts = read_tensors(a, "mpi/allreduce_f32");
  for (const TDesc& t : ts) STELLAR_CHECK(t.dtype == DType::F32, "mpi/allreduce_f32: tensors must be float32");
  if (!active()) {
    if (scale != 1.0f) for (const TDesc& t : ts) { float* p = t.ptr<float>(); for (int64_t i = 0; i < t.numel; ++i) p[i] *= scale; }
    return;
  }
  int64_t total = 0;
  for (const TDesc& t : ts) total += t.numel;
  const int64_t cap = std::min<int64_t>(total, int64_t(4) << 20);  // floats per bucket (at most 16 MB)
  if (cap == 0) return;
  // uninitialised staging: zero-filling megabytes on every step costs as much as the copy itself
  std::unique_ptr<float[]> send(new float[cap]), recv(new float[cap]);
  // (tensor, first element, count) pieces waiting in the current bucket
  struct Piece { const TDesc* t; int64_t begin, n; };
  std::vector<Piece> pieces;
  int64_t fill = 0;
  auto flush = [&]() {
    if (fill == 0) return;
    allreduce_chunked(reinterpret_cast<const char*>(send.get()), reinterpret_cast<char*>(recv.get()), fill, mpi().t_float, sizeof(float));
    int64_t at = 0;
    for (const Piece& p : pieces) {
      float* dst = p.t->ptr<float>() + p.begin;
      if (scale == 1.0f) std::memcpy(dst, recv.get() + at, static_cast<size_t>(p.n) * sizeof(float));
      else for (int64_t i = 0; i < p.n; ++i) dst[i] = recv[at + i] * scale;
      at += p.n;
    }
    pieces.clear();
    fill = 0;
  };
  for (const TDesc& t : ts) {
    for (int64_t begin = 0; begin < t.numel;) {
      int64_t n = std::min(t.numel - begin, cap - fill);
      std::memcpy(send.get() + fill, t.ptr<float>() + begin, static_cast<size_t>(n) * sizeof(float));
      pieces.push_back({&t, begin, n});
      fill += n;
      begin += n;
      if (fill == cap) flush();
    }
  }
  flush();
}

// mpi/allreduce_f64(t): sums float64 values across ranks in place. The tensor is an int64 tensor used
// as a container of float64 bit patterns (the tensor library has no float64 dtype).
STELLAR_KERNEL("mpi/allreduce_f64", a) {
  TDesc t = a.t();
  STELLAR_CHECK(t.device == Device::CPU && t.dtype == DType::I64 && t.contiguous(), "mpi/allreduce_f64: expected a contiguous CPU int64 container");
  if (!active() || t.numel == 0) return;
  std::vector<double> send(static_cast<size_t>(t.numel));
  std::memcpy(send.data(), t.base, send.size() * sizeof(double));
  allreduce_chunked(reinterpret_cast<const char*>(send.data()), t.base, t.numel, mpi().t_double, sizeof(double));
}

// mpi/broadcast(root, n, t_1..t_n): copies each tensor's bytes from rank `root` to every rank, in place.
STELLAR_KERNEL("mpi/broadcast", a) {
  int64_t root = a.i();
  std::vector<TDesc> ts = read_tensors(a, "mpi/broadcast");
  if (!active()) return;
  STELLAR_CHECK(root >= 0 && root < mpi().size, "mpi/broadcast: root rank out of range");
  const int64_t kMax = int64_t(1) << 30;
  for (const TDesc& t : ts) {
    int64_t bytes = t.numel * static_cast<int64_t>(dtype_size(t.dtype));
    for (int64_t done = 0; done < bytes;) {
      int n = static_cast<int>(std::min(kMax, bytes - done));
      check(mpi().Bcast(t.base + done, n, mpi().t_byte, static_cast<int>(root), mpi().comm_world), "MPI_Bcast");
      done += n;
    }
  }
}

STELLAR_KERNEL("mpi/barrier", a) {
  (void)a;
  if (active()) check(mpi().Barrier(mpi().comm_world), "MPI_Barrier");
}

// mpi/finalize(): MPI_Finalize once if we initialized; later collectives act as a world of 1.
STELLAR_KERNEL("mpi/finalize", a) {
  (void)a;
  Mpi& m = mpi();
  if (!m.inited || m.finalized) return;
  int done = 0;
  m.Finalized(&done);
  if (!done) check(m.Finalize(), "MPI_Finalize");
  m.finalized = true;
}

}  // namespace stellar
