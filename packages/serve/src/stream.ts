// What a request streams back: token events (id, UTF-8-safe text delta, log-probs) and one final event
// (finish reason, usage, the whole text), as an async iterator and a promise of the final result.
// The same handle serves the in-thread Engine and the worker-thread EngineClient.
import type { FinishReason, TokenLogprob } from '@stellar/nn';
import { EngineError, type EngineErrorJSON } from './errors';

export interface TokenEvent {
  type: 'token';
  /** 0-based position in the completion. */
  index: number;
  token: number;
  /** Text completed by this token: may be '' (a character's bytes still arriving, or text held back as a possible stop string start). */
  text: string;
  /** With logprobs: log-prob of the token under softmax(logits / temperature). */
  logprob: number | null;
  /** With topLogprobs: the most likely alternatives, best first. */
  top: TokenLogprob[] | null;
}

export interface Usage { promptTokens: number; completionTokens: number; totalTokens: number }

export interface DoneEvent {
  type: 'done';
  finishReason: FinishReason;
  /** The whole completion text (cut before a stop string; without a stop / EOS token's text). */
  text: string;
  /** Every generated token id (an EOS or stop token that ended it included). */
  tokens: number[];
  usage: Usage;
  /** Milliseconds: waiting in the queue, to the first token, and in total. */
  timing: { queueMs: number; ttftMs: number | null; totalMs: number };
}

export type EngineEvent = TokenEvent | DoneEvent;
export type Completion = DoneEvent;

/** A running request: iterate its events, await `result`, or `cancel()` it. */
export class RequestHandle implements AsyncIterable<EngineEvent> {
  readonly result: Promise<Completion>;
  private readonly buffer: EngineEvent[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  private failure: EngineError | null = null;
  private resolve!: (c: Completion) => void;
  private reject!: (e: EngineError) => void;
  private iterated = false;

  constructor(readonly id: string, readonly promptTokens: number, private readonly onCancel: () => void) {
    this.result = new Promise<Completion>((res, rej) => { this.resolve = res; this.reject = rej; });
    this.result.catch(() => {});   // a caller that only iterates must not get an unhandled rejection
  }

  /** Stops generation; the stream then ends with finishReason 'cancelled' (if it had not finished). */
  cancel(): void { if (!this.ended) this.onCancel(); }

  get done(): boolean { return this.ended; }

  /** Internal: delivers one event. */
  _push(ev: EngineEvent): void {
    if (this.ended) return;
    this.buffer.push(ev);
    if (ev.type === 'done') { this.ended = true; this.resolve(ev); }
    this.wake();
  }

  /** Internal: ends the stream with an error. */
  _fail(e: EngineError | EngineErrorJSON): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = e instanceof EngineError ? e : new EngineError(e.message, e.code, e.param, e.status);
    this.reject(this.failure);
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<EngineEvent> {
    if (this.iterated) throw new Error('RequestHandle: the events can be iterated once');
    this.iterated = true;
    for (;;) {
      while (this.buffer.length) {
        const ev = this.buffer.shift()!;
        yield ev;
        if (ev.type === 'done') return;
      }
      if (this.ended) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((r) => { this.waiter = r; });
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
