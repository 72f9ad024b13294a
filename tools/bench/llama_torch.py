# PyTorch peer for packages/nn/bench/model.bench.mjs: one training step (forward with labels +
# backward + zero_grad; optionally an AdamW update) of transformers' LlamaForCausalLM, sdpa attention,
# fp32 master weights, timed on request over stdin/stdout so the bench can alternate it with ours.
# --mode eager: fp32 eager; autocast: eager with the forward (and loss) under
# torch.autocast("cpu", dtype=torch.bfloat16), backward outside it as PyTorch recommends; compile: the
# same bf16 autocast around a torch.compile'd model (compiled by the first step; progress on stderr).
# Not a benchmark by itself; model-step.mjs is our side of the same protocol.
#
# Protocol (one JSON object per line on stdout, one command per line on stdin):
#   (start)        -> builds the model -> {"ok": true, "torch": v, "transformers": v, "params": n,
#                     "rss_after_build": bytes}  or {"ok": false, "error": "..."}
#   threads <n>    -> torch.set_num_threads(n) -> {"ok": true}   (--threads fixes it at start instead)
#   step <n>       -> n timed steps -> {"ok": true, "ms": [...], "loss": of the first}
#   adamw <n>      -> n timed steps each followed by torch.optim.AdamW's update (before zero_grad)
#   mem            -> {"ok": true, "rss_after_build": bytes, "peak_rss": bytes} (peak since the build)
#   quit
import argparse
import json
import sys
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def rss_bytes(field):
    """VmRSS / VmHWM of this process from /proc (Linux), in bytes; None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Makes VmHWM restart from the current RSS (Linux >= 4.0), so the peak excludes the build."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    for name in ("vocab", "dim", "layers", "heads", "kv_heads", "ffn", "seq", "batch"):
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mode", choices=("eager", "autocast", "compile"), default="eager")
    ap.add_argument("--threads", type=int, default=0, help="set before the model is built (and compiled); 0 = torch's default")
    a = ap.parse_args()
    try:
        import torch
        import transformers
        from transformers import LlamaConfig, LlamaForCausalLM
    except Exception as e:  # no torch / transformers here: the bench reports the peer as unavailable
        reply({"ok": False, "error": f"import torch/transformers failed: {e}"})
        return

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = LlamaConfig(
        vocab_size=a.vocab, hidden_size=a.dim, intermediate_size=a.ffn, num_hidden_layers=a.layers,
        num_attention_heads=a.heads, num_key_value_heads=a.kv_heads, max_position_embeddings=max(2048, a.seq),
        rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
    )
    cfg._attn_implementation = "sdpa"
    model = LlamaForCausalLM(cfg).to(torch.float32).train()
    # the same token stream as model-step.mjs (a fixed LCG), so both sides see identical inputs
    ids = torch.tensor([(i * 7919 + 13) % a.vocab for i in range(a.batch * a.seq)], dtype=torch.long).view(a.batch, a.seq)
    params = sum(p.numel() for p in model.parameters())
    # weights stay fp32 in every mode (autocast casts them per op), as on our side
    run = torch.compile(model) if a.mode == "compile" else model
    compiled = [a.mode != "compile"]

    def forward():
        if a.mode == "eager":
            return run(input_ids=ids, labels=ids)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return run(input_ids=ids, labels=ids)

    opt = None  # created on the first `adamw` command, so `mem` (asked before) excludes its moments

    def step(with_adamw=False):
        if not compiled[0]:
            sys.stderr.write("[llama_torch] torch.compile: compiling forward and backward on the first step (minutes on 2 cores)\n")
            sys.stderr.flush()
            t0 = time.perf_counter()
        out = forward()
        out.loss.backward()
        if not compiled[0]:
            compiled[0] = True
            sys.stderr.write(f"[llama_torch] torch.compile: first step done in {time.perf_counter() - t0:.0f} s\n")
            sys.stderr.flush()
        loss = out.loss.item()
        del out  # logits and the graph go before the next step, as on our side
        if with_adamw:
            opt.step()
        model.zero_grad(set_to_none=True)
        return loss

    rss_build = rss_bytes("VmRSS")
    reset_peak_rss()
    reply({"ok": True, "torch": torch.__version__, "transformers": transformers.__version__,
           "params": params, "rss_after_build": rss_build, "mode": a.mode, "threads": torch.get_num_threads()})
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        try:
            if cmd[0] == "quit":
                break
            if cmd[0] == "threads":
                torch.set_num_threads(int(cmd[1]))
                reply({"ok": True})
            elif cmd[0] in ("step", "adamw"):
                with_adamw = cmd[0] == "adamw"
                if with_adamw and opt is None:
                    # the same hyperparameters as our side; PyTorch picks its fastest (foreach) implementation
                    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
                ms, losses = [], []
                for _ in range(int(cmd[1])):
                    t0 = time.perf_counter()
                    losses.append(step(with_adamw))
                    ms.append((time.perf_counter() - t0) * 1e3)
                reply({"ok": True, "ms": ms, "loss": losses[0] if losses else None})
            elif cmd[0] == "mem":
                reply({"ok": True, "rss_after_build": rss_build, "peak_rss": rss_bytes("VmHWM")})
            else:
                reply({"ok": False, "error": f"unknown command {cmd[0]}"})
        except Exception as e:
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
