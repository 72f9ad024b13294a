// The LLaMA model family, re-exported together.
export * from './attention';
export * from './mlp';
export * from './decoder-layer';
export * from './causal-lm';
export * from './kv-cache';
export * from './context';
export * from './masks';
export * from './heads';
