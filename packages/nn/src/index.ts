// @stellar/nn: Module/Parameter, layers, ModelConfig and the LLaMA causal LM.
export * from './module';
export * from './config';
export * from './hf-config';
export * from './layers';
export * from './model';
export * from './pretrained';
export * from './lora';
export * from './checkpoint';
export * from './model/moe';
export * from './generation';
export * from './quantize';
