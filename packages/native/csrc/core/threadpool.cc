// A persistent fork-join pool: workers sleep on a condition variable between parallel regions.
#include "threadpool.h"
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace stellar {
namespace {

thread_local bool t_in_pool = false;

class Pool {
 public:
  Pool() {
    int n = 0;
    if (const char* e = std::getenv("STELLAR_NUM_THREADS")) n = std::atoi(e);
    if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    resize(n);
  }
  ~Pool() { stop(); }

  int size() const { return nthreads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> region(region_mu_);
    stop();
    nthreads_ = std::max(1, n);
    quit_ = false;
    // New workers must only react to regions started after they exist.
    for (int i = 1; i < nthreads_; ++i) workers_.emplace_back([this, i, g = gen_] { loop(i, g); });
    openblas_set_num_threads(nthreads_);
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    int64_t chunks = std::min<int64_t>(nthreads_, (n + grain - 1) / std::max<int64_t>(grain, 1));
    // One parallel region at a time; a second JS thread (worker) that finds the pool busy runs inline.
    std::unique_lock<std::mutex> region(region_mu_, std::try_to_lock);
    if (chunks <= 1 || t_in_pool || !region.owns_lock()) { fn(0, n); return; }
    {
      std::lock_guard<std::mutex> l(mu_);
      fn_ = &fn; n_ = n; chunks_ = chunks; pending_ = static_cast<int>(chunks - 1); gen_++;
    }
    cv_.notify_all();
    t_in_pool = true;
    exec_chunk(0);
    t_in_pool = false;
    std::unique_lock<std::mutex> l(mu_);
    done_cv_.wait(l, [this] { return pending_ == 0; });
    fn_ = nullptr;
    // A kernel that throws on any thread (bad index, ...) rethrows on the caller, never terminates.
    if (error_) { std::exception_ptr e = error_; error_ = nullptr; std::rethrow_exception(e); }
  }

 private:
  void exec_chunk(int64_t c) {
    int64_t per = (n_ + chunks_ - 1) / chunks_;
    int64_t b = c * per, e = std::min(n_, b + per);
    try {
      if (b < e) (*fn_)(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> l(err_mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void loop(int id, uint64_t seen) {
    t_in_pool = true;
    for (;;) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return quit_ || gen_ != seen; });
      if (quit_) return;
      seen = gen_;
      if (id >= chunks_) continue;
      l.unlock();
      exec_chunk(id);
      l.lock();
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
  void stop() {
    { std::lock_guard<std::mutex> l(mu_); quit_ = true; }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_, region_mu_, err_mu_;
  std::exception_ptr error_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, chunks_ = 0;
  int pending_ = 0;
  uint64_t gen_ = 0;
  bool quit_ = false;
};

Pool& pool() { static Pool* p = new Pool(); return *p; }  // leaked on purpose: no join at process exit

}  // namespace

int num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(n); }
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) { pool().run(n, grain, fn); }

}  // namespace stellar
