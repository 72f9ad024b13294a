// OpenAI-style API errors: `{"error": {"message", "type", "param", "code"}}` with the HTTP status, and the
// mapping from engine errors and Fastify's own (bad JSON, body too large) to that shape.
import { EngineError } from '../errors';

export interface OpenAIErrorBody { error: { message: string; type: string; param: string | null; code: string | null } }

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code: string | null = null, readonly param: string | null = null, readonly type = errorType(status)) {
    super(message);
    this.name = 'ApiError';
  }

  body(): OpenAIErrorBody { return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }; }
}

/** OpenAI's error `type` for a status. */
export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 408 || status === 504) return 'timeout_error';
  if (status === 413) return 'invalid_request_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'service_unavailable_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** A 400 naming the offending request field. */
export const invalid = (param: string, message: string, code = 'invalid_value'): ApiError => new ApiError(400, message, code, param);

/** Anything thrown while serving a request, as an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof EngineError) return new ApiError(e.status, e.message, e.code, e.param);
  const fe = e as { statusCode?: number; code?: string; message?: string };
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Fastify's own client errors: bad JSON, empty body, body too large, unsupported content type
    const code = fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request_too_large'
      : fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/i.test(fe.message ?? '') ? 'invalid_json'
        : fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type' : (fe.code ?? null);
    return new ApiError(fe.statusCode, fe.message ?? 'bad request', code, null);
  }
  return new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, 'internal_error');
}
