// Generation: logit processors, the sampling RNG and the batched generate loop.
export * from './processors';
export * from './rng';
export * from './generate';
