// Registers cpu/attention_fwd and cpu/attention_bwd: picks the vector width for this CPU and hands the
// per-width tile, row and backward tasks (forward.cc, decode.cc, backward.cc) to the thread pool.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <numeric>
#include <vector>
#include "../../core/registry.h"
#include "../../core/threadpool.h"
#include "tile.h"

namespace stellar {
namespace attn {
namespace {

// The widest vectors this CPU runs: 16 lanes with AVX-512 (x86-64-v4), 8 with AVX2 + FMA (v3), else 4.
// STELLAR_ATTENTION_LANES=8 or 4 picks a narrower width, so tests can cover every variant on one machine.
int lanes() {
  static const int n = [] {
    int best = 4;
#if ATTN_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) best = 16;
    else if (__builtin_cpu_supports("x86-64-v3")) best = 8;
#endif
    const char* e = std::getenv("STELLAR_ATTENTION_LANES");
    const int want = e ? std::atoi(e) : 0;
    return (want == 4 || want == 8 || want == 16) && want <= best ? want : best;
  }();
  return n;
}

constexpr double kInlineFlops = 1 << 20;

// Runs task(i) for i in [0, n) on the pool, handing tasks out one at a time: uneven (causal) tasks and
// a core shared with other processes still balance. Each task writes only its own outputs, so the
// results do not depend on which thread ran what.
// With `flops` (an estimate of the whole call's work) below ~1 MFLOP the tasks run on the caller: a
// decode step's attention is a few µs of work, less than waking the pool's threads costs.
template <class F>
void run_tasks(int64_t n, F task, double flops = 1e300) {
  if (flops < kInlineFlops || num_threads() <= 1) {
    for (int64_t i = 0; i < n; ++i) task(i);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(n, num_threads()), 1, [&](int64_t, int64_t) {
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) task(i);
  });
}

template <int L>
void forward(const Attn& a, float* o, float* lse) {
  const double flops = 4.0 * a.B * a.Hq * a.T * a.S * a.D;   // QK^T and PV, before causal/segment skipping
  if (decode_fits<L>(a)) run_tasks(a.B * a.Hq * a.T, [&](int64_t i) { fwd_row_task<L>(a, o, lse, i); }, flops);
  else run_tasks(a.B * a.Hq * a.nqt, [&](int64_t i) { fwd_task<L>(a, o, lse, i); }, flops);
}

template <int L>
void backward(const Attn& a, const Grads& g) {
  const int64_t SD = a.S * a.D;
  if (a.B * a.Hkv >= num_threads() || a.group == 1) {
    run_tasks(a.B * a.Hkv, [&](int64_t i) {
      const int64_t kvh = i % a.Hkv;
      bwd_task<L>(a, g, i / a.Hkv, kvh, kvh * a.group, (kvh + 1) * a.group, g.dk + i * SD, g.dv + i * SD);
    });
    return;
  }
  // Fewer KV heads than threads (one sequence with MQA, say): one task per query head into partial
  // dK / dV, then a sum over each group's heads in a fixed order.
  const int64_t nq = a.B * a.Hq;
  std::vector<float> part(static_cast<size_t>(2 * nq * SD));
  run_tasks(nq, [&](int64_t i) {
    const int64_t h = i % a.Hq;
    bwd_task<L>(a, g, i / a.Hq, h / a.group, h, h + 1, part.data() + i * SD, part.data() + (nq + i) * SD);
  });
  parallel_for(a.B * a.Hkv * a.S, 64, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {  // r = (b * Hkv + kvh) * S + j
      const int64_t bk = r / a.S, j = r % a.S, first = (bk / a.Hkv * a.Hq + bk % a.Hkv * a.group) * SD + j * a.D;
      for (int64_t d = 0; d < a.D; ++d) {
        float sk = 0.f, sv = 0.f;
        for (int64_t hh = 0; hh < a.group; ++hh) { sk += part[first + hh * SD + d]; sv += part[nq * SD + first + hh * SD + d]; }
        g.dk[r * a.D + d] = sk;
        g.dv[r * a.D + d] = sv;
      }
    }
  });
}

// With segment ids: the key span [lo, hi) of each query (b, i) at [b * T + i], from the first to the
// last key with its id and cut at the causal end. Packed rows hold runs of equal ids, found in one pass;
// an id spread over several runs (not contiguous) spans from its first run to its last.
void segment_spans(const AttnProblem& a, std::vector<int64_t>& spans) {
  struct Run { int32_t id; int64_t s, e, lo, hi; };
  spans.resize(static_cast<size_t>(2 * a.B * a.T));
  int64_t *lo = spans.data(), *hi = lo + a.B * a.T;
  std::vector<Run> runs;
  std::vector<size_t> order;
  for (int64_t b = 0; b < a.B; ++b) {
    runs.clear();
    for (int64_t j = 0; j < a.S; ++j) {
      const int32_t id = attn_seg(a, b, j);
      if (runs.empty() || runs.back().id != id) runs.push_back({id, j, j + 1, 0, 0});
      else runs.back().e = j + 1;
    }
    order.resize(runs.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return runs[x].id < runs[y].id; });
    for (size_t g = 0; g < order.size();) {  // runs of one id are adjacent in order, by position
      size_t e = g + 1;
      while (e < order.size() && runs[order[e]].id == runs[order[g]].id) ++e;
      for (size_t r = g; r < e; ++r) { runs[order[r]].lo = runs[order[g]].s; runs[order[r]].hi = runs[order[e - 1]].e; }
      g = e;
    }
    size_t r = 0;
    for (int64_t i = 0; i < a.T; ++i) {  // the queries sit at the last T key positions, in order
      const int64_t p = a.S - a.T + i;
      while (runs[r].e <= p) ++r;
      lo[b * a.T + i] = runs[r].lo;
      hi[b * a.T + i] = a.causal ? std::min(runs[r].hi, p + 1) : runs[r].hi;
    }
  }
}

// spans: storage for the segment spans, alive as long as the result.
Attn with_tiles(const AttnProblem& p, std::vector<int64_t>& spans) {
  Attn a;
  static_cast<AttnProblem&>(a) = p;
  a.nqt = (a.T + kBQ - 1) / kBQ;
  if (a.seg) {
    segment_spans(a, spans);
    a.klo = spans.data();
    a.khi = spans.data() + a.B * a.T;
  }
  return a;
}

}  // namespace

// Forward. args: see shared/kernel_args/attention.h (causal, scale, has_mask, q (B, Hq, T, D),
// k (B, Hkv, S, D), v (B, Hkv, S, D), [mask (B, S)], has_seg, [segment ids (B, S)], o (B, Hq, T, D),
// lse (B, Hq, T)).
// q, k, v may be any strided float32 views. lse is the natural-log logsumexp of each row's scaled
// scores (+inf for a fully masked row, whose output is 0).
STELLAR_KERNEL("cpu/attention_fwd", r) {
  const AttnFwdArgs f = read_attn_fwd_args(r, Device::CPU);
  std::vector<int64_t> spans;
  const Attn a = with_tiles(f.a, spans);
  switch (lanes()) {
    case 16: forward<16>(a, f.o, f.lse); break;
    case 8: forward<8>(a, f.o, f.lse); break;
    default: forward<4>(a, f.o, f.lse); break;
  }
}

// Backward. args: see shared/kernel_args/attention.h (the forward's inputs, o and lse, dout, then
// dq, dk, dv, all contiguous and fully overwritten).
STELLAR_KERNEL("cpu/attention_bwd", r) {
  const AttnBwdArgs b = read_attn_bwd_args(r, Device::CPU);
  std::vector<int64_t> spans;
  const Attn a = with_tiles(b.a, spans);
  switch (lanes()) {
    case 16: backward<16>(a, b.g); break;
    case 8: backward<8>(a, b.g); break;
    default: backward<4>(a, b.g); break;
  }
}

}  // namespace attn
}  // namespace stellar
