// @stellar/train: optimizers, schedules, the training loop, its metrics and data parallelism.
export * from './optim';
export * from './trainer';
export * from './stages';
export * from './metrics';
export * from './distributed';
export * from './rl';
