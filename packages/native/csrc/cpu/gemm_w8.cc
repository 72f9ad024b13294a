// INT8 weight-only GEMM C = A @ (scale * Wq)^T (per-output-row symmetric scales, fp32 activations):
// up to 16 rows of A (decode, small batches) stream the int8 rows through gemm_small.h's register tiles, a quarter of the
// fp32 bytes; many rows (prefill) dequantize panels of W to fp32 and call sgemm on each.
#include <cblas.h>
#include <algorithm>
#include <vector>
#include "../core/registry.h"
#include "../shared/kernel_args/gemm_w8.h"
#include "gemm_small.h"

namespace stellar {
namespace {

STELLAR_SMALL_GEMM_ENTRY(small_w8, sg::I8Rows)

// Rows above which the panel + sgemm path is used. Hot-cache timings on the small config's shapes (K 256 / 688,
// N 256 / 688): streaming wins clearly up to M = 12, the two are within ~5% at 16, panels win from 32-64; in a
// model the weights come from L3/DRAM, which favours streaming the int8 bytes.
constexpr int64_t kW8SmallMaxM = 16;
constexpr int64_t kPanel = 64;  // W rows dequantized per sgemm call: 64 x K fp32 stays in L2

STELLAR_MULTIVERSION void dequant_rows(const uint8_t* q, int64_t ldq, const float* scale, int64_t rows, int64_t K, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float s = scale[r];
    for (int64_t k = 0; k < K; ++k) out[r * K + k] = w8_value(q[r * ldq + k]) * s;
  }
}

void gemm_w8_panels(const GemmW8Args& g) {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);  // the pool splits the panels
  const int64_t panels = (g.N + kPanel - 1) / kPanel;
  const double flops_per_panel = 2.0 * g.M * g.K * kPanel;
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(2e6 / flops_per_panel));
  parallel_for(panels, grain, [&](int64_t p0, int64_t p1) {
    std::vector<float> buf(static_cast<size_t>(kPanel * g.K));
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kPanel, nb = std::min(kPanel, g.N - n0);
      dequant_rows(g.Wq.ptr<uint8_t>() + n0 * g.Wq.strides[0], g.Wq.strides[0], g.scale.ptr<float>() + n0, nb, g.K, buf.data());
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.M, nb, g.K, 1.f, g.A.ptr<float>(), g.A.strides[0],
                  buf.data(), g.K, 0.f, g.C.ptr<float>() + n0, g.C.strides[0]);
    }
  });
}

}  // namespace

// args: see shared/kernel_args/gemm_w8.h
STELLAR_KERNEL("cpu/gemm_w8", a) {
  const GemmW8Args g = read_gemm_w8_args(a, Device::CPU);
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) {
    for (int64_t m = 0; m < g.M; ++m) std::fill_n(g.C.ptr<float>() + m * g.C.strides[0], g.N, 0.f);
    return;
  }
  if (g.M > kW8SmallMaxM) { gemm_w8_panels(g); return; }
  const sg::Problem p{g.M, g.N, g.K, g.A.ptr<float>(), g.A.strides[0], 1.f, 0.f, g.C.ptr<float>(), g.C.strides[0], g.scale.ptr<float>()};
  const sg::I8Rows w{g.Wq.ptr<int8_t>(), g.Wq.strides[0]};
  sg::split_rows(p, [&](int64_t n0, int64_t n1) { small_w8(p, w, n0, n1); });
}

}  // namespace stellar
