// The layers, re-exported together.
export * from './linear';
export * from './embedding';
export * from './rmsnorm';
