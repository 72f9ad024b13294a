// @stellar/train: optimizers, schedules and the training loop.
export * from './optim';
export * from './trainer';
export * from './stages';
