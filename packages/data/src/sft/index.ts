// SFT data: conversation normalisation and the chat-templated dataset with assistant-only labels.
export * from './conversations';
export * from './sft-dataset';
export * from './preference';
export * from './packing';
export * from './prompt-dataset';
