// EngineClient: the main-thread side of an Engine running in a worker thread. Same request and
// event types as Engine; submit resolves once the worker has accepted (or rejects with the same
// typed errors: EngineError / QueueFull), and events arrive as messages.
import type { Worker } from 'node:worker_threads';
import type { ChatMessage } from '@stellar/tokenizer';
import type { EngineLoadOptions, ModelInfo } from './engine';
import { EngineError, engineErrorFromJSON, type EngineErrorJSON } from './errors';
import type { EngineMetrics } from './stats';
import type { GenerationRequest } from './request';
import type { CallMethod, FromWorker, ToWorker } from './protocol';
import { RequestHandle } from './stream';
import { spawnEngineWorker } from './spawn-worker';

/** Starts a worker, loads the model there and resolves when it is ready (rejects if loading fails). */
export function startEngineWorker(options: EngineLoadOptions): Promise<EngineClient> {
  const worker = spawnEngineWorker({ options });
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.type === 'ready') { worker.off('message', onMessage); worker.off('error', onError); resolve(new EngineClient(worker, m.info)); }
      if (m.type === 'load-error') { worker.off('error', onError); reject(engineErrorFromJSON(m.error)); }
    };
    const onError = (e: Error) => reject(e);
    worker.on('message', onMessage);
    worker.on('error', onError);
  });
}

export class EngineClient {
  private ids = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: EngineError) => void }>();
  private readonly submits = new Map<number, { resolve: (h: RequestHandle) => void; reject: (e: EngineError) => void; signal?: AbortSignal }>();
  private readonly handles = new Map<number, RequestHandle>();
  private closing: Promise<void> | null = null;
  private dead: EngineError | null = null;

  constructor(private readonly worker: Worker, readonly info: ModelInfo) {
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (e) => this.die(new EngineError(`engine worker failed: ${e.message}`, 'internal_error', null, 500)));
    worker.on('exit', () => this.die(new EngineError('the engine worker has exited', 'engine_closed', null, 503)));
  }

  /** Queues a request in the worker; rejects with EngineError / QueueFull as Engine.submit throws them. */
  submit(request: GenerationRequest, opts: { signal?: AbortSignal } = {}): Promise<RequestHandle> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(new EngineError('the engine is closed', 'engine_closed', null, 503));
    const id = ++this.ids;
    return new Promise((resolve, reject) => {
      this.submits.set(id, { resolve, reject, signal: opts.signal });
      this.send({ type: 'submit', id, request });
    });
  }

  metrics(): Promise<EngineMetrics> { return this.call('metrics', []) as Promise<EngineMetrics>; }
  tokenize(text: string | ChatMessage[], opts: { addSpecialTokens?: boolean; addGenerationPrompt?: boolean } = {}): Promise<number[]> { return this.call('tokenize', [text, opts]) as Promise<number[]>; }
  tokenBytes(ids: number[]): Promise<number[][]> { return this.call('tokenBytes', [ids]) as Promise<number[][]>; }
  detokenize(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): Promise<string> { return this.call('detokenize', [ids, opts]) as Promise<string>; }

  /** Cancels what is running, frees the model and ends the worker. */
  close(): Promise<void> {
    if (this.dead) return Promise.resolve();
    this.closing ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.send({ type: 'close' });
    });
    return this.closing;
  }

  private call(method: CallMethod, args: unknown[]): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const id = ++this.ids;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ type: 'call', id, method, args });
    });
  }

  private send(m: ToWorker): void { this.worker.postMessage(m); }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'accepted': {
        const s = this.submits.get(m.id);
        if (!s) return;
        this.submits.delete(m.id);
        const h = new RequestHandle(`req-${m.id}`, m.promptTokens, () => this.send({ type: 'cancel', id: m.id }));
        this.handles.set(m.id, h);
        if (s.signal) {
          if (s.signal.aborted) h.cancel();
          else s.signal.addEventListener('abort', () => h.cancel(), { once: true });
        }
        s.resolve(h);
        return;
      }
      case 'rejected': {
        const s = this.submits.get(m.id);
        this.submits.delete(m.id);
        s?.reject(engineErrorFromJSON(m.error));
        return;
      }
      case 'events': {
        const h = this.handles.get(m.id);
        if (!h) return;
        for (const ev of m.events) h._push(ev);
        if (h.done) this.handles.delete(m.id);
        return;
      }
      case 'failed': {
        this.handles.get(m.id)?._fail(m.error);
        this.handles.delete(m.id);
        return;
      }
      case 'reply': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) p?.reject(engineErrorFromJSON(m.error));
        else p?.resolve(m.value);
        return;
      }
      default:
    }
  }

  private die(e: EngineError): void {
    if (this.dead) return;
    this.dead = e;
    const j: EngineErrorJSON = e.toJSON();
    for (const s of this.submits.values()) s.reject(e);
    for (const p of this.pending.values()) p.reject(e);
    for (const h of this.handles.values()) h._fail(j);
    this.submits.clear(); this.pending.clear(); this.handles.clear();
  }
}
