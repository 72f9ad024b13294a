// All ops, re-exported as one namespace.
export * from './creation';
export * from './unary';
export * from './binary';
export * from './compare';
export * from './reduce';
export * from './views';
export * from './copy';
export * from './matmul';
export * from './softmax';
export * from './indexing';
export * from './fused';
export * from './attention';
export * from './quantize';
