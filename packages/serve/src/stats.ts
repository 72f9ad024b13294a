// Engine counters and recent latency samples for a metrics endpoint (the server turns them into
// Prometheus counters, gauges and histograms).

/** Keeps the last `cap` samples plus the running count and sum. */
export class SampleWindow {
  private readonly buf: number[] = [];
  private next = 0;
  count = 0;
  sum = 0;
  constructor(readonly cap = 1024) {}

  add(x: number): void {
    this.count++;
    this.sum += x;
    if (this.buf.length < this.cap) this.buf.push(x);
    else { this.buf[this.next] = x; this.next = (this.next + 1) % this.cap; }
  }

  toJSON(): SampleSummary { return { count: this.count, sum: this.sum, recent: [...this.buf] }; }
}

export interface SampleSummary { count: number; sum: number; recent: number[] }

export interface EngineMetrics {
  queueDepth: number;
  activeSequences: number;
  maxBatch: number;
  maxQueue: number;
  requests: {
    submitted: number;
    rejectedQueueFull: number;
    rejectedInvalid: number;
    finished: { stop: number; length: number; cancelled: number };
    failed: number;
  };
  tokens: { prompt: number; generated: number };
  /** Forward passes: prefill batches and decode steps, and how many rows the decode steps carried. */
  passes: { prefill: number; prefillTokens: number; decode: number; decodeRows: number; compactions: number };
  /** Milliseconds from submission to the first token, and to the end, per finished request. */
  ttftMs: SampleSummary;
  latencyMs: SampleSummary;
}
