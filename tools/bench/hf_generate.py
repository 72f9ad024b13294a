# PyTorch + transformers peer for packages/serve/bench/serve.bench.mjs: LlamaForCausalLM loaded from the
# same exported HF directory as our engine, timed through generate() (greedy, KV cache, EOS ignored via
# min_new_tokens), on request over stdin/stdout so the bench can alternate it with ours.
# --mode fp32: the model as saved; dynamic-int8: torch.ao dynamic int8 quantization of every nn.Linear
# (int8 weights, activations quantized per batch at run time).
# Not a benchmark by itself; packages/serve/bench/serve-step.mjs is our side of the same protocol.
#
# Protocol (one JSON object per line on stdout, one command per line on stdin):
#   (start)               -> {"ok": true, "torch": v, "transformers": v} or {"ok": false, "error": "..."}
#   threads <n>           -> torch.set_num_threads(n)
#   prefill <T>           -> one prompt of T tokens, generate(max_new_tokens=1): {"ok", "seconds", "tokens": T}
#   decode <streams> <N>  -> a (streams, 32) prompt batch; generate(N) minus generate(1) (the prefill and
#                            first token): {"ok", "seconds", "tokens": streams * (N - 1)}
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
    ap.add_argument("--model", required=True)
    ap.add_argument("--mode", choices=("fp32", "dynamic-int8"), default="fp32")
    a = ap.parse_args()
    try:
        import torch
        import transformers
        from transformers import LlamaForCausalLM

        torch.manual_seed(0)
        model = LlamaForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation="sdpa").eval()
        if a.mode == "dynamic-int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        vocab = model.config.vocab_size
    except Exception as e:  # reported to the bench, which then writes "peer unavailable"
        reply({"ok": False, "error": f"{type(e).__name__}: {e}"})
        return

    def prompt(length, stream):
        # the same prompts as serve-step.mjs (a fixed LCG per stream)
        return [(i * 7919 + stream * 104729 + 13) % vocab for i in range(length)]

    def run(ids, n):
        with torch.inference_mode():
            t0 = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                                 do_sample=False, pad_token_id=0, eos_token_id=None)
            dt = time.perf_counter() - t0
        assert out.shape[1] == ids.shape[1] + n, "generate stopped early"
        return dt

    reply({"ok": True, "torch": torch.__version__, "transformers": transformers.__version__, "threads": torch.get_num_threads()})
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        try:
            if parts[0] == "quit":
                break
            if parts[0] == "threads":
                torch.set_num_threads(int(parts[1]))
                reply({"ok": True})
            elif parts[0] == "prefill":
                t = int(parts[1])
                ids = torch.tensor([prompt(t, 0)], dtype=torch.long)
                reply({"ok": True, "seconds": run(ids, 1), "tokens": t})
            elif parts[0] == "decode":
                streams, n = int(parts[1]), int(parts[2])
                ids = torch.tensor([prompt(32, s) for s in range(streams)], dtype=torch.long)
                first = run(ids, 1)
                full = run(ids, n)
                reply({"ok": True, "seconds": max(full - first, 1e-9), "tokens": streams * (n - 1)})
            else:
                reply({"ok": False, "error": f"unknown command {parts[0]}"})
        except Exception as e:
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
