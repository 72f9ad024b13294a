// Fused kernels for the model's hot path (each with its native backward), re-exported together.
export * from './rmsnorm';
export * from './rope';
export * from './swiglu';
export * from './cross-entropy';
export * from './adamw';
