// @stellar/tensor: tensors, ops, autograd, memory scopes, RNG and safetensors.
export { Tensor, type TensorOptions } from './tensor';
export type { DType, HostArray } from './dtype';
export { DTYPE_SIZE, isFloat } from './dtype';
export type { Device } from './device';
export * from './shape';
export * from './ops';
export { noGrad, enableGrad, isGradEnabled, type BackwardOptions } from './autograd';
export { tidy, keep, dispose } from './scope';
export { defineOp, registerKernel, registerNative, runOp, run1, opNames, getOp, kernelDevices, type OpDef, type GradCtx, type Kernel, type OutSpec } from './op';
export { args as kernelArgs } from './args';
export * from './random';
export { memStats, numThreads, setNumThreads, cpuFeatures, buildInfo, cudaDeviceCount, CudaNotCompiled, CudaUnavailable } from '@stellar/native';
export * from './safetensors';
export { autocast, autocastDtype, type AutocastDtype } from './autocast';
export { isInt } from './dtype';
