// The inference engine on the calling thread: loads a model directory (plus a LoRA adapter), takes
// requests into a bounded queue, runs continuous batching (scheduler.ts) one step at a time, samples
// each sequence with nn's SequenceSampler and streams events to each request's handle. The worker
// (engine-worker.ts) runs one of these; tests drive it directly with step().
import fs from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { setNumThreads } from '@stellar/tensor';
import { fromPretrained, loadLoraAdapter, quantizeModel, SamplingRng, SequenceSampler, type FinishReason, type StellarForCausalLM } from '@stellar/nn';
import { CHAR_TO_BYTE, loadTokenizer, type ChatMessage, type Tokenizer } from '@stellar/tokenizer';
import { EngineError, QueueFull, asEngineError } from './errors';
import { resolveRequest, type GenerationRequest, type RequestLimits } from './request';
import { BatchScheduler, type BatchRow } from './scheduler';
import { RequestHandle } from './stream';
import { SampleWindow, type EngineMetrics } from './stats';
import { TextOutput } from './text-output';

export interface EngineOptions {
  /** Sequences decoded together (slots of the batch KV cache); default 8. */
  maxBatch?: number;
  /** Longest prompt + completion; default the model's maxPositionEmbeddings. */
  maxContext?: number;
  /** Requests that may wait beyond the free slots; one more is refused with QueueFull. Default 64. */
  maxQueue?: number;
  /** Native compute threads (process-wide); default: leave as is. */
  threads?: number;
  /** Model id reported in info (default: the model directory's name). */
  id?: string;
  /** Token ids that end every request (default: the tokenizer's EOS and generation_config.json's eos_token_id). */
  eosTokenIds?: number[];
  /** Most prompt tokens per prefill pass (rows x columns); longer prompts prefill over several steps. Default 512. */
  prefillChunk?: number;
  /** Step by itself on the event loop whenever there is work (default true); false = the caller calls step(). */
  autoRun?: boolean;
}

export interface EngineLoadOptions extends EngineOptions {
  /** A model directory in HF layout (config.json, model.safetensors, tokenizer.json, ...). */
  model: string;
  /** A PEFT LoRA adapter directory; merged into the weights at load (no per-token cost). */
  adapter?: string;
  /** Tokenizer directory, default the model directory (without tokenizer.json only token-id prompts work). */
  tokenizer?: string;
  /** 'int8': weight-only INT8 Linear layers (per-output-row scales; after the adapter merge). Default: float weights. */
  quantize?: 'int8';
}

export interface ModelInfo {
  id: string;
  contextLength: number;
  vocabSize: number;
  dtype: string;
  parameters: number;
  layers: number;
  hiddenSize: number;
  adapter: string | null;
  eosTokenIds: number[];
  maxBatch: number;
  maxQueue: number;
  hasTokenizer: boolean;
}

const CHAT_END_TOKENS = ['<|im_end|>', '<|eot_id|>', '<|end|>', '<end_of_turn>'];

/** One request inside the engine. */
class Req implements BatchRow {
  next = 0;
  state: 'queued' | 'running' | 'done' = 'queued';
  cancelRequested = false;
  readonly submitted = performance.now();
  admitted: number | null = null;
  first: number | null = null;
  detach: () => void = () => {};
  constructor(readonly prompt: number[], readonly sampler: SequenceSampler, readonly text: TextOutput, readonly maxTokens: number, readonly handle: RequestHandle) {}
}

export class Engine {
  readonly info: ModelInfo;
  readonly maxBatch: number;
  readonly maxContext: number;
  readonly maxQueue: number;
  private readonly sched: BatchScheduler<Req>;
  private readonly queue: Req[] = [];
  private readonly limits: RequestLimits;
  private readonly autoRun: boolean;
  private scheduled = false;
  private closed = false;
  private ids = 0;
  private readonly ttft = new SampleWindow();
  private readonly latency = new SampleWindow();
  private readonly counts = { submitted: 0, rejectedQueueFull: 0, rejectedInvalid: 0, failed: 0, promptTokens: 0, generated: 0, finished: { stop: 0, length: 0, cancelled: 0 } };

  /** Loads `opts.model` (and adapter, tokenizer) from disk. */
  static load(opts: EngineLoadOptions): Engine {
    if (opts.threads !== undefined) {
      if (!(Number.isInteger(opts.threads) && opts.threads >= 1)) throw new EngineError(`threads must be an integer >= 1, got ${opts.threads}`, 'invalid_value', 'threads');
      setNumThreads(opts.threads);
    }
    const model = fromPretrained(opts.model);
    try {
      if (opts.adapter) {
        const lora = loadLoraAdapter(model, opts.adapter);
        lora.merge();
        lora.removeLora();
      }
      if (opts.quantize !== undefined) {
        if (opts.quantize !== 'int8') throw new EngineError(`quantize must be 'int8', got ${JSON.stringify(opts.quantize)}`, 'invalid_value', 'quantize');
        quantizeModel(model, { mode: 'int8' });
      }
      const tokDir = opts.tokenizer ?? opts.model;
      const tokenizer = fs.existsSync(path.join(tokDir, 'tokenizer.json')) ? loadTokenizer(tokDir) : null;
      if (opts.tokenizer && !tokenizer) throw new Error(`Engine.load: no tokenizer.json in ${opts.tokenizer}`);
      let eos = opts.eosTokenIds;
      if (!eos) {
        const set = new Set<number>();
        const e = tokenizer?.eosToken ? tokenizer.tokenToId(tokenizer.eosToken) : undefined;
        if (e !== undefined) set.add(e);
        const gc = path.join(opts.model, 'generation_config.json');
        if (fs.existsSync(gc)) {
          const v = (JSON.parse(fs.readFileSync(gc, 'utf8')) as { eos_token_id?: number | number[] }).eos_token_id;
          for (const id of v === undefined ? [] : Array.isArray(v) ? v : [v]) set.add(id);
        }
        eos = [...set];
      }
      return new Engine(model, tokenizer, { ...opts, id: opts.id ?? path.basename(path.resolve(opts.model)), eosTokenIds: eos }, opts.adapter ?? null);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  constructor(readonly model: StellarForCausalLM, readonly tokenizer: Tokenizer | null, opts: EngineOptions = {}, adapter: string | null = null) {
    const c = model.config;
    const int = (name: string, v: number, min: number) => {
      if (!(Number.isInteger(v) && v >= min)) throw new EngineError(`${name} must be an integer >= ${min}, got ${v}`, 'invalid_value', name);
      return v;
    };
    this.maxBatch = int('maxBatch', opts.maxBatch ?? 8, 1);
    this.maxContext = int('maxContext', opts.maxContext ?? c.maxPositionEmbeddings, 2);
    this.maxQueue = int('maxQueue', opts.maxQueue ?? 64, 0);
    this.autoRun = opts.autoRun ?? true;
    const eos = opts.eosTokenIds ?? (tokenizer?.eosToken ? [tokenizer.tokenToId(tokenizer.eosToken)!] : []);
    const chatEnd = CHAT_END_TOKENS.map((t) => tokenizer?.tokenToId(t)).filter((t): t is number => t !== undefined);
    this.limits = { vocabSize: c.vocabSize, maxContext: this.maxContext, eosTokenIds: eos, chatEndTokenIds: chatEnd };
    model.eval();
    this.sched = new BatchScheduler<Req>(model, this.maxBatch, this.maxContext, { prefillChunk: int('prefillChunk', opts.prefillChunk ?? 512, 1) });
    let parameters = 0;
    for (const p of model.parameters()) parameters += p.data.size;
    this.info = {
      id: opts.id ?? 'model', contextLength: this.maxContext, vocabSize: c.vocabSize, dtype: model.model.embedTokens.weight.data.dtype,
      parameters, layers: c.numHiddenLayers, hiddenSize: c.hiddenSize, adapter, eosTokenIds: eos, maxBatch: this.maxBatch, maxQueue: this.maxQueue,
      hasTokenizer: tokenizer !== null,
    };
  }

  /**
   * Validates and queues a request. Throws EngineError (status 400, `param` names the field) for a bad
   * request or one over the context length, and QueueFull (429) when the queue is at its limit.
   */
  submit(request: GenerationRequest, opts: { signal?: AbortSignal } = {}): RequestHandle {
    if (this.closed) throw new EngineError('the engine is closed', 'engine_closed', null, 503);
    let r;
    try { r = resolveRequest(request, this.tokenizer, this.limits); } catch (e) { this.counts.rejectedInvalid++; throw e; }
    if (this.queue.length - this.sched.free >= this.maxQueue) { this.counts.rejectedQueueFull++; throw new QueueFull(this.maxQueue); }
    this.counts.submitted++;
    this.counts.promptTokens += r.prompt.length;
    const seed = r.seed ?? randomInt(2 ** 47);
    let req!: Req;
    const handle = new RequestHandle(`req-${++this.ids}`, r.prompt.length, () => this.cancel(req));
    req = new Req(r.prompt, new SequenceSampler(r.prompt, r.sampling, new SamplingRng(seed)), new TextOutput(this.tokenizer, r.stopStrings, r.skipSpecialTokens), r.maxTokens, handle);
    this.queue.push(req);
    const signal = opts.signal;
    if (signal) {
      if (signal.aborted) this.cancel(req);
      else {
        const onAbort = () => this.cancel(req);
        signal.addEventListener('abort', onAbort, { once: true });
        req.detach = () => signal.removeEventListener('abort', onAbort);
      }
    }
    this.runSoon();
    return handle;
  }

  /** Nothing queued or running. */
  get idle(): boolean { return this.queue.length === 0 && this.sched.rows.length === 0 && this.sched.prefilling.length === 0; }

  /**
   * One scheduler iteration: drops cancelled sequences, admits waiting requests into free slots (one
   * group prefilled together, in chunks when long), then one decode step over every running sequence.
   * Returns !idle.
   */
  step(): boolean {
    if (this.closed) return false;
    let phase: Req[] = [];
    let inPrefill = false;
    try {
      for (const r of [...this.sched.rows]) if (r.cancelRequested) { this.sched.leave(r); this.finish(r, 'cancelled'); }
      // a prefill whose requests were all cancelled stops now (partly cancelled groups finish first)
      if (this.sched.prefilling.length && this.sched.prefilling.every((r) => r.cancelRequested)) {
        for (const r of this.sched.abortPrefill()) this.finish(r, 'cancelled');
      }
      if (this.sched.prefilling.length === 0) {
        const joining: Req[] = [];
        while (this.queue.length && joining.length < this.sched.free) joining.push(this.queue.shift()!);
        const now = performance.now();
        for (const r of joining) { r.state = 'running'; r.admitted = now; }
        phase = joining;
        this.sched.join(joining);
      }
      phase = [...this.sched.prefilling];
      inPrefill = true;
      const ready = this.sched.prefillStep();
      inPrefill = false;
      ready?.rows.forEach((r, j) => {
        if (r.cancelRequested) { this.sched.leave(r); this.finish(r, 'cancelled'); } else this.onLogits(r, ready.logits[j]);
      });
      phase = [...this.sched.rows];
      if (phase.length) {
        const logits = this.sched.decode();
        phase.forEach((r, i) => this.onLogits(r, logits[i]));
      }
    } catch (e) {
      // a failed forward pass fails the requests it carried; the rest keep going
      if (inPrefill) this.sched.abortPrefill();
      const err = asEngineError(e);
      for (const r of phase) {
        if (r.state === 'done') continue;
        this.sched.leave(r);
        r.state = 'done';
        r.detach();
        this.counts.failed++;
        r.handle._fail(err);
      }
    }
    return !this.idle;
  }

  /** Runs step() until idle (a convenience for scripts and tests with autoRun off). */
  runUntilIdle(): void { while (this.step()); }

  metrics(): EngineMetrics {
    const k = this.sched.counters;
    return {
      queueDepth: this.queue.length, activeSequences: this.sched.rows.length + this.sched.prefilling.length, maxBatch: this.maxBatch, maxQueue: this.maxQueue,
      requests: { submitted: this.counts.submitted, rejectedQueueFull: this.counts.rejectedQueueFull, rejectedInvalid: this.counts.rejectedInvalid, finished: { ...this.counts.finished }, failed: this.counts.failed },
      tokens: { prompt: this.counts.promptTokens, generated: this.counts.generated },
      passes: { prefill: k.prefillPasses, prefillTokens: k.prefillTokens, decode: k.decodePasses, decodeRows: k.decodeTokens, compactions: k.compactions },
      ttftMs: this.ttft.toJSON(), latencyMs: this.latency.toJSON(),
    };
  }

  /** Text -> ids with the model's tokenizer; chat messages are rendered with its chat template (plus the generation prompt unless addGenerationPrompt is false). */
  tokenize(text: string | ChatMessage[], opts: { addSpecialTokens?: boolean; addGenerationPrompt?: boolean } = {}): number[] {
    if (!this.tokenizer) throw new EngineError('this model has no tokenizer', 'invalid_value', typeof text === 'string' ? 'prompt' : 'messages');
    if (typeof text === 'string') return this.tokenizer.encode(text, { addSpecialTokens: opts.addSpecialTokens ?? true });
    try {
      return this.tokenizer.encodeChat(text, { addGenerationPrompt: opts.addGenerationPrompt ?? true }).ids;
    } catch (e) { throw new EngineError(`messages: ${(e as Error).message}`, 'invalid_value', 'messages'); }
  }

  /** Each id's own bytes (what decode joins for it), for log-prob `bytes`: a token may hold part of a character. */
  tokenBytes(ids: number[]): number[][] {
    if (!this.tokenizer) throw new EngineError('this model has no tokenizer', 'invalid_value', 'tokens');
    const tok = this.tokenizer;
    const added = new Map(tok.addedTokens.map((t) => [t.id, t.content]));
    const enc = new TextEncoder();
    return ids.map((id) => {
      const a = added.get(id);
      if (a !== undefined) return [...enc.encode(a)];
      const piece = tok.idToTokenString(id);
      if (piece === undefined) throw new EngineError(`unknown token id ${id}`, 'invalid_value', 'tokens');
      const out: number[] = [];
      for (const ch of piece) {
        const b = CHAR_TO_BYTE.get(ch.charCodeAt(0));
        if (b !== undefined && ch.length === 1) out.push(b); else out.push(...enc.encode(ch));
      }
      return out;
    });
  }

  /** Ids -> text. */
  detokenize(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (!this.tokenizer) throw new EngineError('this model has no tokenizer', 'invalid_value', 'tokens');
    try { return this.tokenizer.decode(ids, opts); } catch (e) { throw new EngineError((e as Error).message, 'invalid_value', 'tokens'); }
  }

  /** Cancels everything queued or running and frees the model and cache. */
  close(): void {
    if (this.closed) return;
    for (const r of this.queue.splice(0)) this.finish(r, 'cancelled');
    for (const r of [...this.sched.rows]) { this.sched.leave(r); this.finish(r, 'cancelled'); }
    for (const r of this.sched.abortPrefill()) this.finish(r, 'cancelled');
    this.closed = true;
    this.sched.dispose();
    this.model.dispose();
  }

  private cancel(r: Req): void {
    if (r.state === 'done') return;
    if (r.state === 'queued') {
      const i = this.queue.indexOf(r);
      if (i >= 0) this.queue.splice(i, 1);
      this.finish(r, 'cancelled');
      return;
    }
    r.cancelRequested = true;   // its row is freed at the start of the next step
    this.runSoon();
  }

  /** Samples `r`'s next token from its logits, streams it, and ends the request when a rule says so. */
  private onLogits(r: Req, logits: Float64Array): void {
    if (r.state === 'done') return;
    const s = r.sampler.next(logits);
    const n = r.sampler.tokens.length;
    let finish: FinishReason | null = r.sampler.finish;   // eos / stop token (its text is not output)
    let text = '';
    let stopString = false;
    if (!finish) {
      const p = r.text.push(s.token);
      text = p.delta;
      if (p.stopped) { finish = 'stop'; stopString = true; }
    }
    if (!finish && n >= r.maxTokens) finish = 'length';
    if (finish && !stopString) text += r.text.finish();
    this.counts.generated++;
    if (n === 1) { r.first = performance.now(); this.ttft.add(r.first - r.submitted); }
    r.next = s.token;
    r.handle._push({ type: 'token', index: n - 1, token: s.token, text, logprob: s.logprob, top: s.top });
    if (r.cancelRequested && !finish) finish = 'cancelled';
    if (finish) { this.sched.leave(r); this.finish(r, finish); }
  }

  private finish(r: Req, reason: FinishReason): void {
    if (r.state === 'done') return;
    r.state = 'done';
    r.detach();
    const now = performance.now();
    this.latency.add(now - r.submitted);
    this.counts.finished[reason]++;
    const completion = r.sampler.tokens.length;
    r.handle._push({
      type: 'done', finishReason: reason, text: r.text.text, tokens: [...r.sampler.tokens],
      usage: { promptTokens: r.prompt.length, completionTokens: completion, totalTokens: r.prompt.length + completion },
      timing: { queueMs: (r.admitted ?? now) - r.submitted, ttftMs: r.first === null ? null : r.first - r.submitted, totalMs: now - r.submitted },
    });
  }

  /** autoRun: one step per event-loop turn while there is work, so submissions and cancels get in between. */
  private runSoon(): void {
    if (!this.autoRun || this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.step()) this.runSoon();
    });
  }
}
