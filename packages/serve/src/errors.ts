// Typed engine errors that an HTTP layer maps straight to OpenAI-style responses: `status` (400, 429,
// 503, 500), `code` and the offending request field in `param` (OpenAI's snake_case names).
export type EngineErrorCode =
  | 'invalid_value'            // a field has a bad type or value (param names it)
  | 'missing_prompt'           // neither prompt nor messages
  | 'context_length_exceeded'  // prompt (+ max_tokens) does not fit the context
  | 'queue_full'               // the waiting queue is at its limit: retry later
  | 'engine_closed'            // the engine is shutting down or gone
  | 'internal_error';          // a failure inside the model run

export interface EngineErrorJSON { name: string; message: string; code: EngineErrorCode; param: string | null; status: number }

export class EngineError extends Error {
  constructor(message: string, readonly code: EngineErrorCode, readonly param: string | null = null, readonly status = 400) {
    super(message);
    this.name = 'EngineError';
  }

  toJSON(): EngineErrorJSON {
    return { name: this.name, message: this.message, code: this.code, param: this.param, status: this.status };
  }
}

/** The waiting queue is full (HTTP 429). */
export class QueueFull extends EngineError {
  constructor(readonly limit: number) {
    super(`the engine's waiting queue is full (${limit} requests); retry later`, 'queue_full', null, 429);
    this.name = 'QueueFull';
  }
}

/** Rebuilds an error sent across a worker boundary, keeping its class. */
export function engineErrorFromJSON(j: EngineErrorJSON): EngineError {
  if (j.name === 'QueueFull') {
    const e = new QueueFull(0);
    e.message = j.message;
    return e;
  }
  return new EngineError(j.message, j.code, j.param, j.status);
}

/** Any thrown value as an EngineError (unknown failures are internal errors, status 500). */
export function asEngineError(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  return new EngineError(e instanceof Error ? e.message : String(e), 'internal_error', null, 500);
}
