# Loads a directory written by Stellar's savePretrained in transformers and prints, as JSON, the max
# abs difference between transformers' logits and Stellar's (stored in <dir>/stellar_reference.safetensors).
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

d = sys.argv[1]
ref = load_file(d + '/stellar_reference.safetensors')
model = AutoModelForCausalLM.from_pretrained(d, attn_implementation='eager').eval()
with torch.no_grad():
    logits = model(input_ids=ref['input_ids'].long()).logits
print(json.dumps({'maxAbsDiff': (logits - ref['logits']).abs().max().item(), 'maxAbs': ref['logits'].abs().max().item(),
                  'class': type(model).__name__, 'tied': model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()}))
