// @stellar/serve: the inference engine (continuous batching, sampling, streaming, cancellation),
// in-thread (Engine) or in a worker thread (startEngineWorker -> EngineClient).
export * from './errors';
export * from './request';
export * from './stream';
export * from './stats';
export * from './text-output';
export * from './scheduler';
export * from './engine';
export * from './client';
export * from './http/server';
export * from './http/errors';
