# TRL peer for packages/train/bench/rl.bench.mjs: one long-lived process per mode, stepped on request
# over stdin/stdout so the bench can alternate it with ours (and switch torch's thread count between steps).
#   --mode dpo:  TRL's DPOTrainer (precompute_ref_log_probs=True), gated one optimizer step at a time by a
#                TrainerCallback; a step = the trainer's data fetch + forward + backward + clip + AdamW.
#   --mode grpo: TRL's GRPOTrainer on CPU (use_cpu, fp32, no vLLM; generation through model.generate as the
#                trainer calls it), gated the same way; a step = generation + reward + loss + backward + AdamW.
#   --mode ppo:  TRL 1.x has no PPO trainer, so this is TRL 0.x's PPO step re-implemented in torch: rollout with
#                model.generate (the GenerationConfig GRPOTrainer builds), log-probs of policy and reference,
#                shared-trunk value head (TRL's AutoModelForCausalLMWithValueHead layout), k1 KL penalty, GAE,
#                masked whitening, then ppo_epochs x minibatches of clipped policy + clipped value loss.
# Not a benchmark by itself.
#
# Protocol (one JSON object per line on stdout, one command per line on stdin):
#   (start)      -> {"ok": true, "torch": v, "transformers": v, "trl": v, ...} or {"ok": false, "error": "..."}
#   threads <n>  -> torch.set_num_threads(n) -> {"ok": true}
#   step         -> dpo/grpo: {"ok": true, "ms": step ms, "tokens": tokens of the step}
#                   ppo: {"ok": true, "gen_ms", "gen_tokens", "opt_ms", "opt_tokens", "opt_row_tokens" (all row positions forwarded)}
#   quit
import argparse
import json
import os
import sys
import tempfile
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def read_jsonl(path, limit):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) >= limit:
                break
    return rows


def digit_fraction(text):
    """The bench's rule reward (the same on our side): share of digit characters in the response."""
    return sum(c.isdigit() for c in text) / max(1, len(text))


def completion_text(c):
    return c[-1]["content"] if isinstance(c, list) else c


class Gate:
    """Blocks the trainer between steps until the bench sends `step`; answers `threads` meanwhile."""

    def __init__(self, torch):
        self.torch = torch
        self.t0 = None
        self.tokens = 0

    def wait(self):
        while True:
            line = sys.stdin.readline()
            if not line or line.split()[0:1] == ["quit"]:
                sys.stdout.flush()
                os._exit(0)
            cmd = line.split()
            if not cmd:
                continue
            if cmd[0] == "threads":
                self.torch.set_num_threads(int(cmd[1]))
                reply({"ok": True})
            elif cmd[0] == "step":
                self.tokens = 0
                self.t0 = time.perf_counter()
                return
            else:
                reply({"ok": False, "error": f"unknown command {cmd[0]}"})

    def done(self):
        reply({"ok": True, "ms": (time.perf_counter() - self.t0) * 1e3, "tokens": int(self.tokens)})
        self.wait()


def gate_callback(gate):
    from transformers import TrainerCallback

    class GateCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            reply({"ok": True, "ready": True})
            gate.wait()

        def on_step_end(self, args, state, control, **kw):
            gate.done()

    return GateCallback()


def common_args(a, out):
    return dict(output_dir=out, use_cpu=True, bf16=False, fp16=False, report_to="none", save_strategy="no",
                logging_steps=10**9, disable_tqdm=True, max_steps=10**6, learning_rate=a.lr, seed=0,
                dataloader_num_workers=0, max_grad_norm=1.0, weight_decay=0.0)


def run_dpo(a, torch, model, tok, out):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer
    gate = Gate(torch)

    class Timed(DPOTrainer):
        def training_step(self, model, inputs, *args, **kw):
            gate.tokens += int(inputs["attention_mask"].sum())
            return super().training_step(model, inputs, *args, **kw)

    ds = Dataset.from_list(read_jsonl(a.prefs, a.pairs))
    cfg = DPOConfig(**common_args(a, out), per_device_train_batch_size=a.batch, max_length=a.max_length, beta=0.1,
                    precompute_ref_log_probs=True, precompute_ref_batch_size=a.batch)
    trainer = Timed(model=model, args=cfg, train_dataset=ds, processing_class=tok, callbacks=[gate_callback(gate)])
    trainer.train()


def run_grpo(a, torch, model, tok, out):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    gate = Gate(torch)

    class Timed(GRPOTrainer):
        def _generate_and_score_completions(self, *args, **kw):
            r = super()._generate_and_score_completions(*args, **kw)
            gate.tokens += int(r["completion_mask"].sum())
            return r

    def reward(completions, **kw):
        return [digit_fraction(completion_text(c)) for c in completions]

    ds = Dataset.from_list(read_jsonl(a.prompts, 10**9))
    cfg = GRPOConfig(**common_args(a, out), per_device_train_batch_size=a.prompts_per_step * a.generations,
                     num_generations=a.generations, max_completion_length=a.new_tokens, temperature=1.0, top_p=1.0, top_k=0,
                     beta=0.0, loss_type="grpo", use_vllm=False, generation_kwargs={"min_new_tokens": a.new_tokens})
    trainer = Timed(model=model, reward_funcs=[reward], args=cfg, train_dataset=ds, processing_class=tok, callbacks=[gate_callback(gate)])
    trainer.train()


def run_ppo(a, torch, model, tok, ref):
    import torch.nn.functional as F
    from transformers import GenerationConfig
    C = model.config.hidden_size
    torch.manual_seed(0)
    v_head = torch.nn.Linear(C, 1)   # TRL's ValueHead.summary on the last hidden state (shared trunk)
    torch.nn.init.normal_(v_head.weight, std=model.config.initializer_range)
    torch.nn.init.zeros_(v_head.bias)
    params = list(model.parameters()) + list(v_head.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
    gen_cfg = GenerationConfig(max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                               pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, disable_compile=True)
    prompts = [tok.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True) for r in read_jsonl(a.prompts, 10**9)]
    prompts = [p["input_ids"] if isinstance(p, dict) or hasattr(p, "keys") else p for p in prompts]
    B, mb, temp, gamma, lam, clip, clip_v, vf_coef, kl_coef = a.batch, a.mini_batch, 1.0, 1.0, 0.95, 0.2, 0.2, 0.1, 0.05
    cursor = [0]

    def logprobs_of(logits, labels):   # TRL's selective_log_softmax
        return torch.gather(logits.log_softmax(-1), -1, labels.unsqueeze(-1)).squeeze(-1)

    def masked_mean(x, m):
        return (x * m).sum() / m.sum()

    def masked_whiten(x, m):
        mean = masked_mean(x, m)
        var = masked_mean((x - mean) ** 2, m) * (m.sum() / (m.sum() - 1))
        return (x - mean) * torch.rsqrt(var + 1e-8)

    def forward(ids, attn, ctx):
        pos = (attn.cumsum(1) - 1).clamp(min=0)
        out = model(input_ids=ids, attention_mask=attn, position_ids=pos, output_hidden_states=True)
        logits = out.logits[:, ctx - 1:-1] / (temp + 1e-7)
        values = v_head(out.hidden_states[-1]).squeeze(-1)[:, ctx - 1:-1]
        return logits, values

    def step():
        batch = [prompts[(cursor[0] + i) % len(prompts)] for i in range(B)]
        cursor[0] += B
        P = max(len(p) for p in batch)
        ids = torch.tensor([[tok.pad_token_id] * (P - len(p)) + p for p in batch])
        attn = torch.tensor([[0] * (P - len(p)) + [1] * len(p) for p in batch])
        # ---- rollout (timed alone: the generation row)
        model.eval()
        t0 = time.perf_counter()
        with torch.no_grad():
            seq = model.generate(input_ids=ids, attention_mask=attn, generation_config=gen_cfg)
        gen_s = time.perf_counter() - t0
        resp = seq[:, P:]
        R = resp.shape[1]
        full_attn = torch.cat([attn, torch.ones_like(resp)], 1)
        mask = torch.ones(B, R)
        scores = torch.tensor([digit_fraction(tok.decode(r)) for r in resp.tolist()])
        with torch.no_grad():
            logits, values = forward(seq, full_attn, P)
            old_logp = logprobs_of(logits, resp)
            ref_out = ref(input_ids=seq, attention_mask=full_attn, position_ids=(full_attn.cumsum(1) - 1).clamp(min=0))
            ref_logp = logprobs_of(ref_out.logits[:, P - 1:-1] / (temp + 1e-7), resp)
            rewards = -kl_coef * (old_logp - ref_logp)
            rewards[:, -1] += scores
            adv_rev, last = [], 0.0
            for t in reversed(range(R)):
                nxt = values[:, t + 1] if t < R - 1 else 0.0
                delta = rewards[:, t] + gamma * nxt - values[:, t]
                last = delta + gamma * lam * last
                adv_rev.append(last)
            advantages = torch.stack(adv_rev[::-1], 1)
            returns = advantages + values
            advantages = masked_whiten(advantages, mask)
        # ---- PPO epochs (timed: the optimization row)
        model.train()
        t1 = time.perf_counter()
        tokens = 0
        g = torch.Generator().manual_seed(cursor[0])
        for _ in range(a.epochs):
            order = torch.randperm(B, generator=g)
            for s in range(0, B, mb):
                rows = order[s:s + mb]
                lg, vpred = forward(seq[rows], full_attn[rows], P)
                m = mask[rows]
                new_logp = logprobs_of(lg, resp[rows])
                vclipped = values[rows] + (vpred - values[rows]).clamp(-clip_v, clip_v)
                vf_loss = 0.5 * masked_mean(torch.max((vpred - returns[rows]) ** 2, (vclipped - returns[rows]) ** 2), m)
                ratio = torch.exp(new_logp - old_logp[rows])
                adv = advantages[rows]
                pg_loss = masked_mean(torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)), m)
                loss = pg_loss + vf_coef * vf_loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                with torch.no_grad():   # the statistics TRL's PPO logs (ours logs them too)
                    p = F.softmax(lg, -1)
                    entropy = torch.logsumexp(lg, -1) - (p * lg).sum(-1)
                    _ = (masked_mean(entropy, m).item(), masked_mean(((new_logp - old_logp[rows]) ** 2) / 2, m).item(),
                         masked_mean(((ratio - 1).abs() > clip).float(), m).item(), loss.item())
                tokens += int(m.sum())
        opt_s = time.perf_counter() - t1
        return {"ok": True, "gen_ms": gen_s * 1e3, "gen_tokens": int(resp.numel()), "opt_ms": opt_s * 1e3, "opt_tokens": tokens,
                "opt_row_tokens": a.epochs * B * int(seq.shape[1])}

    reply({"ok": True, "ready": True})
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            break
        try:
            if cmd[0] == "threads":
                torch.set_num_threads(int(cmd[1]))
                reply({"ok": True})
            elif cmd[0] == "step":
                reply(step())
            else:
                reply({"ok": False, "error": f"unknown command {cmd[0]}"})
        except Exception as e:
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("ppo", "grpo", "dpo"), required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--prefs")
    ap.add_argument("--prompts")
    ap.add_argument("--pairs", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--mini-batch", dest="mini_batch", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--max-length", dest="max_length", type=int, default=128)
    ap.add_argument("--new-tokens", dest="new_tokens", type=int, default=32)
    ap.add_argument("--prompts-per-step", dest="prompts_per_step", type=int, default=2)
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-5)
    a = ap.parse_args()
    try:
        import torch
        import transformers
        import trl
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except Exception as e:  # the bench reports the peer as unavailable
        reply({"ok": False, "error": f"import torch/transformers/trl failed: {e}"})
        return
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="sdpa")
    reply({"ok": True, "torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
           "threads": torch.get_num_threads()})
    with tempfile.TemporaryDirectory(prefix="trl-rl-") as out:
        try:
            if a.mode == "dpo":
                run_dpo(a, torch, model, tok, out)
            elif a.mode == "grpo":
                run_grpo(a, torch, model, tok, out)
            else:
                ref = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="sdpa").eval()
                for p in ref.parameters():
                    p.requires_grad_(False)
                run_ppo(a, torch, model, tok, ref)
        except Exception as e:
            reply({"ok": False, "error": f"{type(e).__name__}: {str(e)[:400]}"})


if __name__ == "__main__":
    main()
