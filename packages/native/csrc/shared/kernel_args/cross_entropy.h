// Arguments of the fused cross-entropy kernels (cpu/ and cuda/, forward and backward), decoded and
// checked once on the host for both devices, and the error both raise for a bad target.
#pragma once
#include <string>
#include "device.h"

namespace stellar {

enum XentReduction : int { RED_NONE = 0, RED_SUM = 1, RED_MEAN = 2 };

struct XentArgs {
  int reduction;  // XentReduction
  int64_t ignore;
  float eps;      // label smoothing
  TDesc logits, targets, lse;
  TDesc out;      // forward: (N) row losses for none, a scalar for sum/mean
  TDesc g, dl;    // backward: incoming gradient (scalar, or (N) for none) and dlogits (N, V)
  int64_t N, V;
};

inline void check_xent_inputs(const TDesc& logits, const TDesc& targets, const char* what) {
  STELLAR_CHECK(logits.dtype == DType::F32 && logits.ndim == 2, std::string(what) + ": logits must be (N, V) float32");
  STELLAR_CHECK(logits.shape[1] <= 1 || logits.strides[1] == 1, std::string(what) + ": logits rows must have unit stride");
  STELLAR_CHECK(targets.dtype == DType::I32 || targets.dtype == DType::I64, std::string(what) + ": targets must be int32 or int64");
  STELLAR_CHECK(targets.ndim == 1 && targets.shape[0] == logits.shape[0], std::string(what) + ": targets must be (N)");
}

inline void check_xent_vec(const TDesc& t, int64_t n, const char* what) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.contiguous() && t.numel == n, std::string(what) + " must be a contiguous float32 vector");
}

// The leading reduction, ignore_index, label_smoothing, logits (N, V), targets (N), lse (N) of both kernels.
inline XentArgs read_xent_common(ArgReader& a) {
  XentArgs r;
  r.reduction = static_cast<int>(a.i());
  r.ignore = a.i();
  r.eps = static_cast<float>(a.f());
  r.logits = a.t(); r.targets = a.t(); r.lse = a.t();
  return r;
}

// args: reduction (0 none, 1 sum, 2 mean), ignore_index, label_smoothing, logits (N, V), targets (N),
//       lse (N, out), out ((N) per-row losses for none, a scalar for sum/mean)
inline XentArgs read_xent_fwd_args(ArgReader& a, Device dev) {
  XentArgs r = read_xent_common(a);
  r.out = a.t();
  require_on(dev, "cuda/fused_cross_entropy", {&r.logits, &r.targets, &r.lse, &r.out});
  check_xent_inputs(r.logits, r.targets, "fused_cross_entropy");
  r.N = r.logits.shape[0]; r.V = r.logits.shape[1];
  check_xent_vec(r.lse, r.N, "fused_cross_entropy: lse");
  check_xent_vec(r.out, r.reduction == RED_NONE ? r.N : 1, "fused_cross_entropy: output");
  return r;
}

// args: reduction, ignore_index, label_smoothing, logits (N, V), targets (N), lse (N),
//       g (scalar, or (N) for none; any stride), dlogits (N, V contiguous)
inline XentArgs read_xent_bwd_args(ArgReader& a, Device dev) {
  XentArgs r = read_xent_common(a);
  r.g = a.t(); r.dl = a.t();
  require_on(dev, "cuda/fused_cross_entropy_backward", {&r.logits, &r.targets, &r.lse, &r.g, &r.dl});
  check_xent_inputs(r.logits, r.targets, "fused_cross_entropy_backward");
  r.N = r.logits.shape[0]; r.V = r.logits.shape[1];
  check_xent_vec(r.lse, r.N, "fused_cross_entropy_backward: lse");
  STELLAR_CHECK(r.dl.dtype == DType::F32 && r.dl.contiguous() && r.dl.numel == r.N * r.V,
                "fused_cross_entropy_backward: dlogits must be contiguous (N, V)");
  STELLAR_CHECK(r.g.dtype == DType::F32 && r.g.numel == (r.reduction == RED_NONE ? r.N : 1), "fused_cross_entropy_backward: bad gradient");
  return r;
}

// Stride of g over rows: only the none reduction reads one gradient per row.
inline int64_t xent_grad_stride(const XentArgs& r) { return r.reduction == RED_NONE && r.g.ndim ? r.g.strides[0] : 0; }

// Target t of a non-ignored row lies outside [0, V). The forward also says it is not ignore_index.
inline Error xent_bad_target(int64_t t, int64_t V, bool forward) {
  return Error("cross_entropy: target " + std::to_string(t) + " is out of range [0, " + std::to_string(V) + ")" +
               (forward ? " and is not ignore_index" : ""), "ERR_OUT_OF_BOUNDS");
}

}  // namespace stellar
