// Messages between EngineClient (main thread) and the engine worker.
import type { EngineLoadOptions, ModelInfo } from './engine';
import type { EngineErrorJSON } from './errors';
import type { GenerationRequest } from './request';
import type { EngineEvent } from './stream';

export type CallMethod = 'metrics' | 'tokenize' | 'detokenize' | 'tokenBytes';

export type ToWorker =
  | { type: 'submit'; id: number; request: GenerationRequest }
  | { type: 'cancel'; id: number }
  | { type: 'call'; id: number; method: CallMethod; args: unknown[] }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'load-error'; error: EngineErrorJSON }
  | { type: 'accepted'; id: number; promptTokens: number }
  | { type: 'rejected'; id: number; error: EngineErrorJSON }
  | { type: 'events'; id: number; events: EngineEvent[] }
  | { type: 'failed'; id: number; error: EngineErrorJSON }
  | { type: 'reply'; id: number; value?: unknown; error?: EngineErrorJSON }
  | { type: 'closed' };

export interface WorkerData { options: EngineLoadOptions }
