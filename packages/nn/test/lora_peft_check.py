# Loads adapter directories written by Stellar's saveLoraAdapter into Hugging Face peft
# (PeftModel.from_pretrained over LlamaForCausalLM.from_pretrained) and prints, as one JSON line per
# case, the max abs difference between peft's logits and Stellar's (<case>/stellar_reference.safetensors).
# Usage: python lora_peft_check.py <base_dir> <case_dir>...   (each case_dir holds adapter/ and the reference)
import json
import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import LlamaForCausalLM

base_dir = sys.argv[1]
for case in sys.argv[2:]:
    ref = load_file(case + '/stellar_reference.safetensors')
    base = LlamaForCausalLM.from_pretrained(base_dir, attn_implementation='eager')
    model = PeftModel.from_pretrained(base, case + '/adapter').eval()
    with torch.no_grad():
        logits = model(input_ids=ref['input_ids'].long()).logits
    lora_modules = sorted(n for n, m in model.named_modules() if hasattr(m, 'lora_A') and 'default' in m.lora_A)
    print(json.dumps({'case': case, 'maxAbsDiff': (logits - ref['logits']).abs().max().item(),
                      'maxAbs': ref['logits'].abs().max().item(), 'loraModules': lora_modules,
                      'scaling': sorted({m.scaling['default'] for n, m in model.named_modules() if hasattr(m, 'scaling') and isinstance(m.scaling, dict) and 'default' in m.scaling})}))
