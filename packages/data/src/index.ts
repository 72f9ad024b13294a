// @stellar/data: streaming readers, token shards, pretokenization, the pretraining dataset and the batch loader.
export * from './readers';
export * from './files';
export * from './documents';
export * from './shard-format';
export * from './shards';
export * from './pretokenize';
export * from './progress';
export * from './sample';
export * from './pretrain-dataset';
export * from './collate';
export * from './batch-order';
export * from './batch-loader';
export * from './parquet';
export * from './sft';
export * from './builtin';
