// Arguments of the fused attention kernels (cpu/ and cuda/ attention_fwd and attention_bwd), decoded
// and checked once on the host for both devices.
#pragma once
#include <initializer_list>
#include <string>
#include "device.h"
#include "../hd.h"

namespace stellar {

// A 4-D float32 view, any strides.
struct AttnView4 { const float* p; int64_t s[4]; };

// One attention call: shapes, options and the (possibly strided) inputs.
struct AttnProblem {
  int64_t B, Hq, Hkv, T, S, D, group;  // group = Hq / Hkv query heads per KV head
  float scale;
  bool causal;
  AttnView4 q, k, v;
  const uint8_t* mask = nullptr;  // (B, S) key padding mask, 1 = attend; null: none
  int64_t ms0 = 0, ms1 = 0;
  // (B, S) segment ids of packed rows over the key positions; null: none. Query i (at key position
  // S - T + i) sees key j only when seg[b, j] == seg[b, S - T + i], on top of the other masks.
  const int32_t* seg = nullptr;
  int64_t ss0 = 0, ss1 = 0;
};

// Segment id of key position j of row b (needs a.seg).
STELLAR_HD int32_t attn_seg(const AttnProblem& a, int64_t b, int64_t j) { return a.seg[b * a.ss0 + j * a.ss1]; }

// What the backward reads besides the problem, and the gradients it fully overwrites.
struct AttnGrads {
  const float* o;    // forward output (B, Hq, T, D), contiguous
  const float* lse;  // (B, Hq, T)
  AttnView4 dout;    // (B, Hq, T, D), any strides
  float *dq, *dk, *dv;
};

inline AttnView4 attn_view4(const TDesc& t, const char* name, Device dev) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.ndim == 4, std::string("attention: ") + name + " must be a 4-D float32 tensor");
  if (dev == Device::CUDA) STELLAR_CHECK(t.device == Device::CUDA, std::string("attention: ") + name + " must live on the CUDA device");
  return AttnView4{t.ptr<float>(), {t.strides[0], t.strides[1], t.strides[2], t.strides[3]}};
}

inline float* attn_out_ptr(const TDesc& t, std::initializer_list<int64_t> shape, const char* name, Device dev) {
  STELLAR_CHECK(t.dtype == DType::F32 && t.contiguous() && t.ndim == static_cast<int>(shape.size()),
                std::string("attention: ") + name + " must be a contiguous float32 tensor");
  if (dev == Device::CUDA) STELLAR_CHECK(t.device == Device::CUDA, std::string("attention: ") + name + " must live on the CUDA device");
  int d = 0;
  for (int64_t s : shape) STELLAR_CHECK(t.shape[d++] == s, std::string("attention: ") + name + " has the wrong shape");
  return t.ptr<float>();
}

// Reads causal, scale, has_mask, q (B, Hq, T, D), k (B, Hkv, S, D), v (B, Hkv, S, D),
// [mask (B, S) bool, only when has_mask], has_seg, [seg (B, S) int32, only when has_seg] and checks
// the shapes.
inline AttnProblem read_attn_problem(ArgReader& r, Device dev) {
  AttnProblem a{};
  a.causal = r.b();
  a.scale = static_cast<float>(r.f());
  bool has_mask = r.b();
  TDesc q = r.t(), k = r.t(), v = r.t();
  a.q = attn_view4(q, "q", dev); a.k = attn_view4(k, "k", dev); a.v = attn_view4(v, "v", dev);
  a.B = q.shape[0]; a.Hq = q.shape[1]; a.T = q.shape[2]; a.D = q.shape[3];
  a.Hkv = k.shape[1]; a.S = k.shape[2];
  STELLAR_CHECK(k.shape[0] == a.B && k.shape[3] == a.D, "attention: k must be (B, Hkv, S, D)");
  for (int d = 0; d < 4; ++d) STELLAR_CHECK(v.shape[d] == k.shape[d], "attention: v must have k's shape");
  STELLAR_CHECK(a.Hkv > 0 && a.Hq % a.Hkv == 0, "attention: query heads must be a multiple of KV heads");
  STELLAR_CHECK(a.D > 0, "attention: head dim must be positive");
  a.group = a.Hq / a.Hkv;
  if (has_mask) {
    TDesc m = r.t();
    STELLAR_CHECK(m.dtype == DType::U8 && m.ndim == 2 && m.shape[0] == a.B && m.shape[1] == a.S,
                  "attention: key padding mask must be a (B, S) bool tensor");
    if (dev == Device::CUDA) STELLAR_CHECK(m.device == Device::CUDA, "attention: mask must live on the CUDA device");
    a.mask = reinterpret_cast<const uint8_t*>(m.base);
    a.ms0 = m.strides[0]; a.ms1 = m.strides[1];
  }
  if (r.b()) {  // has_seg
    TDesc sg = r.t();
    STELLAR_CHECK(sg.dtype == DType::I32 && sg.ndim == 2 && sg.shape[0] == a.B && sg.shape[1] == a.S,
                  "attention: segment ids must be a (B, S) int32 tensor");
    STELLAR_CHECK(a.T <= a.S, "attention: segment ids need every query at a key position (T <= S)");
    if (dev == Device::CUDA) STELLAR_CHECK(sg.device == Device::CUDA, "attention: segment ids must live on the CUDA device");
    a.seg = sg.ptr<int32_t>();
    a.ss0 = sg.strides[0]; a.ss1 = sg.strides[1];
  }
  return a;
}

struct AttnFwdArgs {
  AttnProblem a;
  float* o;    // (B, Hq, T, D) contiguous
  float* lse;  // (B, Hq, T) contiguous: natural-log logsumexp of each row's scaled scores (+inf when fully masked)
};

// args: the problem (read_attn_problem), then o (B, Hq, T, D), lse (B, Hq, T), both contiguous.
inline AttnFwdArgs read_attn_fwd_args(ArgReader& r, Device dev) {
  AttnFwdArgs f;
  f.a = read_attn_problem(r, dev);
  const AttnProblem& a = f.a;
  TDesc o = r.t(), lse = r.t();
  f.o = attn_out_ptr(o, {a.B, a.Hq, a.T, a.D}, "o", dev);
  f.lse = attn_out_ptr(lse, {a.B, a.Hq, a.T}, "lse", dev);
  return f;
}

struct AttnBwdArgs {
  AttnProblem a;
  AttnGrads g;
};

// args: the problem (as the forward), o and lse (the forward's outputs), dout (B, Hq, T, D) any strides,
// then dq (B, Hq, T, D), dk, dv (B, Hkv, S, D), all contiguous.
inline AttnBwdArgs read_attn_bwd_args(ArgReader& r, Device dev) {
  AttnBwdArgs b;
  b.a = read_attn_problem(r, dev);
  const AttnProblem& a = b.a;
  TDesc o = r.t(), lse = r.t(), dout = r.t(), dq = r.t(), dk = r.t(), dv = r.t();
  b.g.o = attn_out_ptr(o, {a.B, a.Hq, a.T, a.D}, "o", dev);
  b.g.lse = attn_out_ptr(lse, {a.B, a.Hq, a.T}, "lse", dev);
  b.g.dout = attn_view4(dout, "dout", dev);
  for (int d = 0; d < 4; ++d) STELLAR_CHECK(dout.shape[d] == o.shape[d], "attention: dout must have the output's shape");
  b.g.dq = attn_out_ptr(dq, {a.B, a.Hq, a.T, a.D}, "dq", dev);
  b.g.dk = attn_out_ptr(dk, {a.B, a.Hkv, a.S, a.D}, "dk", dev);
  b.g.dv = attn_out_ptr(dv, {a.B, a.Hkv, a.S, a.D}, "dv", dev);
  return b;
}

}  // namespace stellar
