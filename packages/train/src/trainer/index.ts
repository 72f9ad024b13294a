// The training loop, its checkpoints, loggers and the causal-LM loss.
export * from './types';
export * from './checkpoint';
export * from './logger';
export * from './lm-loss';
export * from './trainer';
