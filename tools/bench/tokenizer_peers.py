# Python peers for packages/tokenizer/bench/tokenizer.bench.mjs: HF `tokenizers` (Rust) BPE training
# and encoding, and SentencePiece BPE training, timed inside Python on request over stdin/stdout so the
# bench can alternate them with ours in one run. Not a benchmark by itself.
#
# Protocol: one JSON object per line each way. Replies carry "ok" (and "error" when false).
#   (start)  -> {"tokenizers": ver|null, "sentencepiece": ver|null, "errors": {...}, "batch_fast": bool}
#   {"cmd": "load", "dir": d}                 reads d/train.json and d/heldout.json (lists of documents)
#   {"cmd": "train_hf", "out": f, "opts": o}  ByteLevel BPE trained like ours, saved to f -> {"s": seconds}
#   {"cmd": "train_spm", "prefix": p, "opts": o}  SentencePiece BPE on the same text -> {"s": seconds}
#   {"cmd": "encode", "file": f, "mode": "single"|"batch"|"batch_fast", "n": n}
#        n timed passes over all held-out documents, each with a freshly loaded tokenizer (load not
#        timed): encode per document, or encode_batch / encode_batch_fast (no offsets) once per slice
#        -> {"s": [...], "tokens": count}
#   {"cmd": "spm_count", "prefix": p}      SentencePiece token counts of each held-out slice -> {"tokens": {...}}
#   {"cmd": "quit"}
# o = {"vocab": n, "minFrequency": n, "specials": [...], "pattern": str|null}; SentencePiece has no
# minimum pair frequency and its own whitespace handling, so it uses only vocab and specials.
import json
import os
import sys
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    versions, errors = {}, {}
    try:
        import tokenizers
        versions["tokenizers"] = tokenizers.__version__
    except Exception as e:  # the bench reports these rows as "peer unavailable"
        versions["tokenizers"], errors["tokenizers"] = None, f"import tokenizers failed: {e}"
    try:
        import sentencepiece
        versions["sentencepiece"] = sentencepiece.__version__
    except Exception as e:
        versions["sentencepiece"], errors["sentencepiece"] = None, f"import sentencepiece failed: {e}"
    reply({"ok": True, **versions, "errors": errors,
           "batch_fast": versions["tokenizers"] is not None and hasattr(tokenizers.Tokenizer, "encode_batch_fast")})

    state = {"train": None, "heldout": None}

    def held_docs():
        return [d for k in ("english", "chinese", "code") for d in state["heldout"][k]]

    def train_hf(out, o):
        from tokenizers import Tokenizer, Regex, models, pre_tokenizers, decoders, trainers
        tok = Tokenizer(models.BPE())
        if o.get("pattern"):
            # a non-GPT-2 pattern: Split then ByteLevel without its own regex, as our saved files do
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(o["pattern"]), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ])
        else:
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=o["vocab"], min_frequency=o["minFrequency"], special_tokens=o["specials"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        docs = state["train"]
        t0 = time.perf_counter()
        tok.train_from_iterator(docs, trainer=trainer, length=len(docs))
        s = time.perf_counter() - t0
        tok.save(out)
        return s

    def train_spm(prefix, o):
        import sentencepiece as spm
        # SentencePiece reads sentences, not documents: one line each, blank lines dropped. Writing the
        # file is not timed; reading it is part of SentencePiece's training, as it is for its CLI.
        path = prefix + ".txt"
        with open(path, "w", encoding="utf-8") as f:
            for d in state["train"]:
                for line in d.split("\n"):
                    if line.strip():
                        f.write(line + "\n")
        t0 = time.perf_counter()
        spm.SentencePieceTrainer.train(
            input=path, model_prefix=prefix, model_type="bpe", vocab_size=o["vocab"],
            byte_fallback=True, character_coverage=0.9995, num_threads=2,
            user_defined_symbols=o["specials"], max_sentence_length=1 << 20,
            input_sentence_size=0, minloglevel=2)
        s = time.perf_counter() - t0
        os.remove(path)
        return s

    def encode(path, mode, n):
        from tokenizers import Tokenizer
        text = open(path, encoding="utf-8").read()
        docs = held_docs()
        parts = [state["heldout"][k] for k in ("english", "chinese", "code")]
        times, count = [], 0
        for _ in range(n):
            tok = Tokenizer.from_str(text)  # fresh: no word cache carried over from the previous pass
            t0 = time.perf_counter()
            if mode == "batch":  # one call per held-out slice, as the JS side batches
                encs = [e for part in parts for e in tok.encode_batch(part, add_special_tokens=False)]
            elif mode == "batch_fast":
                encs = [e for part in parts for e in tok.encode_batch_fast(part, add_special_tokens=False)]
            else:
                encs = [tok.encode(d, add_special_tokens=False) for d in docs]
            times.append(time.perf_counter() - t0)
            count = sum(len(e.ids) for e in encs)
        return times, count

    for line in sys.stdin:
        try:
            req = json.loads(line)
            cmd = req["cmd"]
            if cmd == "quit":
                break
            elif cmd == "load":
                with open(os.path.join(req["dir"], "train.json"), encoding="utf-8") as f:
                    state["train"] = json.load(f)
                with open(os.path.join(req["dir"], "heldout.json"), encoding="utf-8") as f:
                    state["heldout"] = json.load(f)
                reply({"ok": True})
            elif cmd == "train_hf":
                reply({"ok": True, "s": train_hf(req["out"], req["opts"])})
            elif cmd == "train_spm":
                reply({"ok": True, "s": train_spm(req["prefix"], req["opts"])})
            elif cmd == "spm_count":
                import sentencepiece as spm
                sp = spm.SentencePieceProcessor(model_file=req["prefix"] + ".model")
                counts = {k: sum(len(sp.encode(d)) for d in docs) for k, docs in state["heldout"].items()}
                reply({"ok": True, "tokens": counts})
            elif cmd == "encode":
                times, count = encode(req["file"], req["mode"], int(req["n"]))
                reply({"ok": True, "s": times, "tokens": count})
            else:
                reply({"ok": False, "error": f"unknown command {cmd!r}"})
        except Exception as e:
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
