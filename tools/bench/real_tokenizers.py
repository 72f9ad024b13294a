# Python side of packages/tokenizer/bench/real-tokenizers.bench.mjs: loads one real tokenizer.json with HF
# `tokenizers` (Rust) and times the load and a warm encode of the given documents. One run per call, so the
# Node bench can alternate contenders round by round. Prints one JSON line.
# Usage: python tools/bench/real_tokenizers.py TOKENIZER_JSON DOCS_JSON
import json
import sys
import time

import tokenizers
from tokenizers import Tokenizer


def main():
    tok_file, docs_file = sys.argv[1], sys.argv[2]
    with open(docs_file, encoding="utf-8") as f:
        docs = json.load(f)
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(tok_file)
    load = time.perf_counter() - t0
    for d in docs:  # warm-up: fills the BPE cache, as the JS contenders' warm-up does
        tok.encode(d, add_special_tokens=False)
    t0 = time.perf_counter()
    n = sum(len(tok.encode(d, add_special_tokens=False).ids) for d in docs)
    single = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_batch = sum(len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False))
    batch = time.perf_counter() - t0
    print(json.dumps({"version": tokenizers.__version__, "load": load, "encode": single, "encode_batch": batch, "tokens": n, "tokens_batch": n_batch}))


if __name__ == "__main__":
    main()
