// LoRA adapters: injection by pattern, merge/unmerge, PEFT adapter directories.
export * from './config';
export * from './layer';
export * from './model';
export * from './io';
