// The OpenAI-compatible HTTP server on Fastify: /v1/chat/completions, /v1/completions (JSON or SSE),
// /v1/models, /health, /metrics, /tokenize, /detokenize and the optional chat page at /. It only
// exchanges messages with the engine (normally an EngineClient in a worker thread), so the event loop
// never waits on a forward pass. Timeouts answer 504 (the request arrived whole; generation overran).
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ChatMessage } from '@stellar/tokenizer';
import type { ModelInfo } from '../engine';
import type { EngineMetrics } from '../stats';
import type { GenerationRequest } from '../request';
import type { RequestHandle, TokenEvent } from '../stream';
import { ApiError, invalid, toApiError } from './errors';
import { ServerMetrics } from './metrics';
import { parseChat, parseCompletion, type ParsedRequest } from './params';
import {
  chatChunk, chatLogprob, chatResponse, completionChunk, completionResponse, CompletionLogprobs, usageChunk,
  type Head, type Kind, type TokenText,
} from './shapes';
import { staticFiles } from './static';

/** What the server needs from an engine: an EngineClient (worker thread) or an in-thread Engine. */
export interface ServeEngine {
  readonly info: ModelInfo;
  submit(request: GenerationRequest, opts?: { signal?: AbortSignal }): RequestHandle | Promise<RequestHandle>;
  metrics(): EngineMetrics | Promise<EngineMetrics>;
  tokenize(text: string | ChatMessage[], opts?: { addSpecialTokens?: boolean; addGenerationPrompt?: boolean }): number[] | Promise<number[]>;
  detokenize(ids: number[], opts?: { skipSpecialTokens?: boolean }): string | Promise<string>;
  tokenBytes(ids: number[]): number[][] | Promise<number[][]>;
  close(): void | Promise<void>;
}

export interface ServerOptions {
  engine: ServeEngine;
  /** The model name clients send (default engine.info.id); other names get 404 model_not_found. */
  modelId?: string;
  /** When set, /v1/*, /tokenize and /detokenize need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 8000; 0 = any free port. */
  port?: number;
  /** Largest request body in bytes (default 1 MiB); larger gets 413. */
  bodyLimit?: number;
  /** Generation requests served at once (running + waiting) beyond the engine's batch; one more gets 429. Default: the engine's own queue limit decides. */
  maxQueue?: number;
  /** A generation request running longer than this is cancelled and answered 504 (streams get an error event). Default 600000; 0 = none. */
  requestTimeoutMs?: number;
  /** Serve the chat page at / (default false). */
  ui?: boolean;
  /** close() waits this long for in-flight requests before cancelling them (default 30000). */
  drainTimeoutMs?: number;
  /** Close the engine in close() (default true). */
  closeEngine?: boolean;
  /** Fastify's logger (default off). */
  logger?: boolean;
}

/** reason: 'client' (disconnected), 'timeout' or 'shutdown'. */
interface InFlight { abort: (reason: string) => void; done: Promise<void> }

export class StellarServer {
  readonly app: FastifyInstance;
  readonly metrics = new ServerMetrics();
  readonly modelId: string;
  private readonly engine: ServeEngine;
  private readonly inFlight = new Set<InFlight>();
  private readonly tokenText = new Map<number, TokenText>();
  private readonly counted = new WeakSet<object>();
  private closing: Promise<void> | null = null;
  private address: { url: string; host: string; port: number } | null = null;

  constructor(private readonly opts: ServerOptions) {
    this.engine = opts.engine;
    this.modelId = opts.modelId ?? opts.engine.info.id;
    this.app = Fastify({ bodyLimit: opts.bodyLimit ?? 1 << 20, logger: opts.logger ?? false, return503OnClosing: true, forceCloseConnections: 'idle' });
    this.routes();
  }

  /** Starts listening; resolves with the URL (port 0 picks a free port). */
  async listen(): Promise<{ url: string; host: string; port: number }> {
    const host = this.opts.host ?? '127.0.0.1';
    await this.app.listen({ host, port: this.opts.port ?? 8000 });
    const a = this.app.server.address() as AddressInfo;
    const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.address = { url: `http://${shown}:${a.port}`, host: a.address, port: a.port };
    return this.address;
  }

  get url(): string | null { return this.address?.url ?? null; }

  /**
   * Graceful shutdown: stop accepting (new requests get 503), let in-flight requests finish for up to
   * drainTimeoutMs, cancel what is left, close the listener and then the engine.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const httpClosed = this.app.close();
      const drained = Promise.all([...this.inFlight].map((f) => f.done));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), this.opts.drainTimeoutMs ?? 30_000); });
      if ((await Promise.race([drained.then(() => 'ok' as const), deadline])) === 'late') {
        for (const f of this.inFlight) f.abort('shutdown');
        await drained;
      }
      clearTimeout(timer);
      // connections that carried the drained requests are idle keep-alives now: do not wait out their timeout
      this.app.server.closeIdleConnections();
      await httpClosed;
      if (this.opts.closeEngine ?? true) await this.engine.close();
    })();
    return this.closing;
  }

  private routes(): void {
    const app = this.app;
    app.setErrorHandler((err, _req, reply) => {
      const e = toApiError(err);
      if (e.status >= 500 && this.opts.logger) app.log.error(err);
      void reply.status(e.status).send(e.body());
    });
    app.setNotFoundHandler((req, reply) => {
      void reply.status(404).send(new ApiError(404, `no route ${req.method} ${req.url.split('?')[0]}`, 'unknown_url').body());
    });
    app.addHook('onRequest', async (req) => {
      if (!this.opts.apiKey) return;
      const p = req.url.split('?')[0];
      if (!(p.startsWith('/v1/') || p === '/tokenize' || p === '/detokenize')) return;
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!m) throw new ApiError(401, 'missing API key: send "Authorization: Bearer <key>"', 'invalid_api_key');
      const a = Buffer.from(m[1]), b = Buffer.from(this.opts.apiKey);
      if (a.length !== b.length || !timingSafeEqual(a, b)) throw new ApiError(401, 'incorrect API key', 'invalid_api_key');
    });
    app.addHook('onResponse', async (req, reply) => {
      if (!this.counted.has(reply.raw)) this.count(req, reply.statusCode);
      if (this.closing) reply.raw.socket?.end();   // no keep-alive while shutting down
    });

    app.post('/v1/chat/completions', (req, reply) => this.generate('chat', req, reply));
    app.post('/v1/completions', (req, reply) => this.generate('completion', req, reply));
    app.get('/v1/models', async () => ({
      object: 'list',
      data: [{ id: this.modelId, object: 'model', created: 0, owned_by: 'stellar', max_model_len: this.engine.info.contextLength }],
    }));
    app.get('/v1/models/:id', async (req) => {
      const id = (req.params as { id: string }).id;
      if (id !== this.modelId) throw new ApiError(404, `the model '${id}' does not exist`, 'model_not_found', 'model');
      return { id, object: 'model', created: 0, owned_by: 'stellar', max_model_len: this.engine.info.contextLength };
    });
    app.get('/health', async (_req, reply) => {
      if (this.closing) return reply.status(503).send({ status: 'shutting_down' });
      return { status: 'ok' };
    });
    app.get('/metrics', async (_req, reply) => {
      const m = await this.engine.metrics();
      void reply.type('text/plain; version=0.0.4; charset=utf-8');
      return this.metrics.render({ queueDepth: m.queueDepth, activeSequences: m.activeSequences });
    });
    app.post('/tokenize', async (req) => {
      const b = this.body(req);
      this.checkModel(b.model);
      const addSpecial = b.add_special_tokens;
      if (addSpecial !== undefined && typeof addSpecial !== 'boolean') throw invalid('add_special_tokens', 'add_special_tokens must be a boolean', 'invalid_type');
      let tokens: number[];
      if (typeof b.prompt === 'string' && b.messages === undefined) {
        tokens = await this.engine.tokenize(b.prompt, { addSpecialTokens: addSpecial ?? true });
      } else if (b.messages !== undefined && b.prompt === undefined) {
        const parsed = parseChat({ messages: b.messages });
        const gen = b.add_generation_prompt;
        if (gen !== undefined && typeof gen !== 'boolean') throw invalid('add_generation_prompt', 'add_generation_prompt must be a boolean', 'invalid_type');
        tokens = await this.engine.tokenize(parsed.request.messages!, { addGenerationPrompt: gen ?? true });
      } else {
        throw invalid('prompt', 'send exactly one of prompt (a string) or messages', b.prompt === undefined && b.messages === undefined ? 'missing_required_parameter' : 'invalid_type');
      }
      return { tokens, count: tokens.length, max_model_len: this.engine.info.contextLength };
    });
    app.post('/detokenize', async (req) => {
      const b = this.body(req);
      this.checkModel(b.model);
      const V = this.engine.info.vocabSize;
      if (!Array.isArray(b.tokens) || b.tokens.some((t) => !(Number.isInteger(t) && t >= 0 && t < V))) throw invalid('tokens', `tokens must be an array of token ids in [0, ${V})`, 'invalid_type');
      return { prompt: await this.engine.detokenize(b.tokens as number[], { skipSpecialTokens: false }) };
    });
    if (this.opts.ui) {
      for (const f of staticFiles()) {
        app.get(f.route, (_req, reply) => { void reply.type(f.type).header('cache-control', 'no-cache').send(f.body); });
      }
    }
  }

  private body(req: FastifyRequest): Record<string, unknown> {
    const b = req.body;
    if (typeof b !== 'object' || b === null || Array.isArray(b)) throw invalid('body', 'the request body must be a JSON object', 'invalid_type');
    return b as Record<string, unknown>;
  }

  private checkModel(model: unknown): void {
    if (model === undefined || model === null) return;
    if (typeof model !== 'string') throw invalid('model', 'model must be a string', 'invalid_type');
    if (model !== this.modelId) throw new ApiError(404, `the model '${model}' does not exist (this server has '${this.modelId}')`, 'model_not_found', 'model');
  }

  private count(req: FastifyRequest, status: number): void {
    const route = req.routeOptions.url ?? 'unmatched';
    this.metrics.requests.inc({ endpoint: route, method: req.method, status: String(status) });
  }

  /** Each token's own bytes and text for log-probs (cached; a token holding part of a character shows U+FFFD in `token`, `bytes` are exact). */
  private async tokenStrings(ev: TokenEvent): Promise<void> {
    const ids = [...new Set([ev.token, ...(ev.top ?? []).map((a) => a.token)])].filter((id) => !this.tokenText.has(id));
    if (!ids.length) return;
    const bytes = await this.engine.tokenBytes(ids);
    ids.forEach((id, i) => this.tokenText.set(id, { text: Buffer.from(bytes[i]).toString('utf8'), bytes: bytes[i] }));
  }

  private async generate(kind: Kind, req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const arrived = performance.now();
    const body = this.body(req);
    const p: ParsedRequest = kind === 'chat' ? parseChat(body) : parseCompletion(body);
    this.checkModel(p.model);
    if (this.closing) throw new ApiError(503, 'the server is shutting down', 'server_shutting_down');
    if (this.opts.maxQueue !== undefined && this.inFlight.size >= this.engine.info.maxBatch + this.opts.maxQueue) {
      throw new ApiError(429, `too many requests in flight (${this.inFlight.size}); retry later`, 'queue_full');
    }

    const ac = new AbortController();
    let why: string | null = null;
    const abort = (reason: string) => { why ??= reason; ac.abort(); };
    const onClose = () => { if (!reply.raw.writableFinished) abort('client'); };
    reply.raw.on('close', onClose);
    const timeoutMs = this.opts.requestTimeoutMs ?? 600_000;
    const timer = timeoutMs > 0 ? setTimeout(() => abort('timeout'), timeoutMs) : undefined;
    let finished!: () => void;
    const entry: InFlight = { abort, done: new Promise<void>((r) => { finished = r; }) };
    this.inFlight.add(entry);
    this.metrics.inFlightCount = this.inFlight.size;
    const h: Head = { id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`, created: Math.floor(Date.now() / 1000), model: this.modelId };
    try {
      const handle = await this.engine.submit(p.request, { signal: ac.signal });
      return p.stream ? await this.streamOut(kind, p, h, handle, reply, arrived, () => why) : await this.jsonOut(kind, p, h, handle, arrived, () => why);
    } finally {
      clearTimeout(timer);
      reply.raw.off('close', onClose);
      this.inFlight.delete(entry);
      this.metrics.inFlightCount = this.inFlight.size;
      finished();
    }
  }

  private cancelledError(why: string | null): ApiError {
    if (why === 'timeout') return new ApiError(504, `the request took longer than ${this.opts.requestTimeoutMs ?? 600_000} ms and was cancelled`, 'request_timeout');
    if (why === 'shutdown') return new ApiError(503, 'the server shut down before the request finished', 'server_shutting_down');
    return new ApiError(499, 'the client closed the request', 'client_closed_request');
  }

  private observe(p: ParsedRequest, ev: TokenEvent, t: { last: number | null }, arrived: number): void {
    const now = performance.now();
    if (t.last === null) this.metrics.ttft.observe((now - arrived) / 1000);
    else this.metrics.itl.observe((now - t.last) / 1000);
    t.last = now;
  }

  private finishMetrics(arrived: number, reason: string, usage: { promptTokens: number; completionTokens: number }): void {
    this.metrics.latency.observe((performance.now() - arrived) / 1000);
    this.metrics.finished.inc({ reason });
    this.metrics.promptTokens.inc({}, usage.promptTokens);
    this.metrics.completionTokens.inc({}, usage.completionTokens);
  }

  private async jsonOut(kind: Kind, p: ParsedRequest, h: Head, handle: RequestHandle, arrived: number, why: () => string | null): Promise<unknown> {
    const chatLp: ReturnType<typeof chatLogprob>[] = [];
    const compLp = new CompletionLogprobs();
    const str = (id: number) => this.tokenText.get(id)!;
    const t = { last: null as number | null };
    let offset = 0;
    for await (const ev of handle) {
      if (ev.type === 'token') {
        this.observe(p, ev, t, arrived);
        if (p.logprobs !== null) {
          await this.tokenStrings(ev);
          if (kind === 'chat') chatLp.push(chatLogprob(ev, str)); else compLp.add(ev, str, offset);
        }
        offset += ev.text.length;
        continue;
      }
      this.finishMetrics(arrived, ev.finishReason, ev.usage);
      if (ev.finishReason === 'cancelled') throw this.cancelledError(why());
      return kind === 'chat'
        ? chatResponse(h, ev.text, ev.finishReason, ev.usage, p.logprobs !== null ? chatLp : null)
        : completionResponse(h, ev.text, ev.finishReason, ev.usage, p.logprobs !== null ? compLp : null);
    }
    throw new ApiError(500, 'the engine ended the request without a result', 'internal_error');
  }

  private async streamOut(kind: Kind, p: ParsedRequest, h: Head, handle: RequestHandle, reply: FastifyReply, arrived: number, why: () => string | null): Promise<void> {
    reply.hijack();
    const res = reply.raw;
    this.counted.add(res);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (obj: unknown) => { if (!res.destroyed) res.write(`data: ${JSON.stringify(obj)}\n\n`); };
    const end = () => { if (!res.destroyed) res.end('data: [DONE]\n\n'); };
    const str = (id: number) => this.tokenText.get(id)!;
    const t = { last: null as number | null };
    let offset = 0;
    let status = 200;
    try {
      if (kind === 'chat') send(chatChunk(h, { role: 'assistant', content: '' }, null, null, p.includeUsage));
      for await (const ev of handle) {
        if (ev.type === 'token') {
          this.observe(p, ev, t, arrived);
          if (ev.text === '' && p.logprobs === null) continue;   // bytes of a character still arriving, or held stop-string text
          if (p.logprobs !== null) await this.tokenStrings(ev);
          if (kind === 'chat') send(chatChunk(h, { content: ev.text }, null, p.logprobs !== null ? { content: [chatLogprob(ev, str)], refusal: null } : null, p.includeUsage));
          else {
            let lp: CompletionLogprobs | null = null;
            if (p.logprobs !== null) { lp = new CompletionLogprobs(); lp.add(ev, str, offset); }
            send(completionChunk(h, ev.text, null, lp, p.includeUsage));
          }
          offset += ev.text.length;
          continue;
        }
        this.finishMetrics(arrived, ev.finishReason, ev.usage);
        if (ev.finishReason === 'cancelled') {
          const e = this.cancelledError(why());
          status = e.status;
          send(e.body());
        } else {
          if (kind === 'chat') send(chatChunk(h, {}, ev.finishReason, null, p.includeUsage));
          else send(completionChunk(h, '', ev.finishReason, null, p.includeUsage));
          if (p.includeUsage) send(usageChunk(kind, h, ev.usage));
        }
      }
    } catch (e) {
      // headers are out: the failure goes to the client as an error event (OpenAI's SDK raises it)
      const a = toApiError(e);
      status = a.status;
      send(a.body());
    } finally {
      end();
      this.count(reply.request, status);
      if (this.closing) res.socket?.end();   // no keep-alive while shutting down
    }
  }
}

/** Builds the server (call listen() to start it). */
export function createServer(opts: ServerOptions): StellarServer {
  return new StellarServer(opts);
}
