// The ChatML chat template Stellar ships: used when a tokenizer has none, and saved with tokenizers that carry its markers.
// Kept on one line as a JSON-compatible string literal: tools/fixtures/make_chat_golden.py reads it from this file.
export const CHATML_TEMPLATE = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The tokens ChatML needs; a tokenizer with both as added tokens gets CHATML_TEMPLATE written on save. */
export const CHATML_MARKERS = ['<|im_start|>', '<|im_end|>'] as const;
