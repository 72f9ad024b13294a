# PyTorch peer for packages/tensor/bench/attention.bench.mjs: times F.scaled_dot_product_attention
# forward+backward (and forward alone) on request over stdin/stdout, so the bench can alternate it with
# our kernels in one run. Not a benchmark by itself.
#
# Protocol (one JSON object per line on stdout, one command per line on stdin):
#   (start)         -> {"ok": true, "torch": "<version>"}  or {"ok": false, "error": "..."}
#   tune            -> tries 1 and 2 threads x (enable_gqa, expanded KV heads); keeps the fastest
#                      -> {"ok": true, "threads": n, "mode": "gqa"|"expand", "candidates": {...ms}}
#   threads <n>     -> torch.set_num_threads(n) -> {"ok": true}
#   fb <n> / f <n>  -> n timed fwd+bwd (or forward-only) calls -> {"ok": true, "ms": [...]}
#   quit
import argparse
import json
import sys
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("B", 16), ("T", 256), ("Hq", 8), ("Hkv", 4), ("D", 32)):
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--causal", type=int, default=1)
    a = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # no torch in this interpreter: the bench reports the peer as unavailable
        reply({"ok": False, "error": f"import torch failed: {e}"})
        return

    torch.manual_seed(0)
    group = a.Hq // a.Hkv
    q = torch.randn(a.B, a.Hq, a.T, a.D, requires_grad=True)
    k = torch.randn(a.B, a.Hkv, a.T, a.D, requires_grad=True)
    v = torch.randn(a.B, a.Hkv, a.T, a.D, requires_grad=True)
    go = torch.randn(a.B, a.Hq, a.T, a.D)
    causal = bool(a.causal)
    state = {"mode": "gqa"}

    def attend():
        if state["mode"] == "gqa":
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        kx = k.repeat_interleave(group, dim=1)  # (B, Hq, S, D): the expansion is part of the cost
        vx = v.repeat_interleave(group, dim=1)
        return F.scaled_dot_product_attention(q, kx, vx, is_causal=causal)

    def fwd_bwd():
        q.grad = k.grad = v.grad = None
        attend().backward(go)

    def fwd():
        with torch.no_grad():
            attend()

    def timed(fn, n):
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1e3)
        return out

    reply({"ok": True, "torch": torch.__version__})
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        try:
            if cmd[0] == "quit":
                break
            if cmd[0] == "tune":
                cands = {}
                for threads in (1, 2):
                    for mode in ("gqa", "expand"):
                        torch.set_num_threads(threads)
                        state["mode"] = mode
                        try:
                            timed(fwd_bwd, 2)
                            ms = sorted(timed(fwd_bwd, 5))[2]
                        except Exception:  # enable_gqa missing in older torch: skip that variant
                            continue
                        cands[f"{threads}:{mode}"] = ms
                best = min(cands, key=cands.get)
                threads, mode = best.split(":")
                torch.set_num_threads(int(threads))
                state["mode"] = mode
                reply({"ok": True, "threads": int(threads), "mode": mode, "candidates": cands})
            elif cmd[0] == "threads":
                torch.set_num_threads(int(cmd[1]))
                reply({"ok": True})
            elif cmd[0] in ("fb", "f"):
                fn = fwd_bwd if cmd[0] == "fb" else fwd
                fn()  # one untimed call per round, like our side
                reply({"ok": True, "ms": timed(fn, int(cmd[1]))})
            else:
                reply({"ok": False, "error": f"unknown command {cmd[0]}"})
        except Exception as e:
            reply({"ok": False, "error": str(e)})


if __name__ == "__main__":
    main()
