// @stellar/train: optimizers, schedules, the training loop and its metrics.
export * from './optim';
export * from './trainer';
export * from './stages';
export * from './metrics';
