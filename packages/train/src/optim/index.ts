// Optimizers, parameter groups, schedules, clipping and weight EMA.
export * from './optimizer';
export * from './param-groups';
export * from './adamw';
export * from './sgd';
export * from './newton-schulz';
export * from './muon';
export * from './schedule';
export * from './clip';
export * from './ema';
