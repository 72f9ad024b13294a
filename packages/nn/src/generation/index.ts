// Generation: logit processors, the sampling RNG, per-sequence sampling state and the batched generate loop.
export * from './processors';
export * from './rng';
export * from './generate';
export * from './sequence';
