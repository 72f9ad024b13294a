// @stellar/tokenizer: byte-level BPE training, encode/decode, Hugging Face tokenizer.json load/save.
export * from './byte-level';
export * from './pretokenize';
export * from './tokenizer';
export * from './train';
export * from './hf-format';
export * from './chat';
export * from './corpus/read';
export * from './corpus/glob';
export * from './word-count';
export * from './encoding';
export * from './post-processor';
export * from './batch';
export * from './stream-decode';
export * from './spawn-worker';
