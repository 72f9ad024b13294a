// The server's Prometheus metrics in the text exposition format (version 0.0.4), written here rather
// than pulled from a library: labelled counters, gauges read at scrape time, and cumulative histograms.

type Labels = Record<string, string>;

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (l: Labels) => {
  const keys = Object.keys(l);
  return keys.length ? `{${keys.map((k) => `${k}="${escape(l[k])}"`).join(',')}}` : '';
};
const fmt = (x: number) => (Number.isFinite(x) ? String(x) : x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN');

abstract class Metric {
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' | 'histogram') {}
  abstract samples(): string[];
  render(): string { return [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.type}`, ...this.samples()].join('\n'); }
}

export class Counter extends Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(name: string, help: string) { super(name, help, 'counter'); }
  inc(labels: Labels = {}, by = 1): void {
    const k = labelText(labels);
    const v = this.values.get(k);
    if (v) v.value += by; else this.values.set(k, { labels, value: by });
  }
  get(labels: Labels = {}): number { return this.values.get(labelText(labels))?.value ?? 0; }
  samples(): string[] { return [...this.values.values()].map((v) => `${this.name}${labelText(v.labels)} ${fmt(v.value)}`); }
}

export class Gauge extends Metric {
  constructor(name: string, help: string, private readonly read: () => number) { super(name, help, 'gauge'); }
  value = 0;
  samples(): string[] { return [`${this.name} ${fmt(this.value)}`]; }
  /** Refreshes from the read function (called before each scrape). */
  refresh(): void { this.value = this.read(); }
}

export class Histogram extends Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(name: string, help: string, readonly buckets: number[]) {
    super(name, help, 'histogram');
    this.counts = buckets.map(() => 0);
  }
  observe(x: number): void {
    this.sum += x;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (x <= this.buckets[i]) this.counts[i]++;
  }
  samples(): string[] {
    return [
      ...this.buckets.map((b, i) => `${this.name}_bucket{le="${fmt(b)}"} ${this.counts[i]}`),
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${fmt(this.sum)}`,
      `${this.name}_count ${this.count}`,
    ];
  }
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const TOKEN_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56];

export interface EngineGauges { queueDepth: number; activeSequences: number }

/** Every metric the server exports. */
export class ServerMetrics {
  readonly requests = new Counter('stellar_http_requests_total', 'HTTP requests by endpoint and status code');
  readonly promptTokens = new Counter('stellar_prompt_tokens_total', 'Prompt tokens of finished generation requests');
  readonly completionTokens = new Counter('stellar_completion_tokens_total', 'Generated tokens of finished generation requests');
  readonly finished = new Counter('stellar_request_finish_total', 'Generation requests by finish reason');
  readonly latency = new Histogram('stellar_request_latency_seconds', 'Generation request latency, arrival to last byte', SECONDS);
  readonly ttft = new Histogram('stellar_time_to_first_token_seconds', 'Time from arrival to the first generated token', SECONDS);
  readonly itl = new Histogram('stellar_inter_token_latency_seconds', 'Time between consecutive generated tokens of one request', TOKEN_SECONDS);
  private gaugeValues: EngineGauges = { queueDepth: 0, activeSequences: 0 };
  readonly queueDepth = new Gauge('stellar_queue_depth', 'Requests waiting for a batch slot', () => this.gaugeValues.queueDepth);
  readonly active = new Gauge('stellar_active_sequences', 'Sequences in the running batch (prefilling or decoding)', () => this.gaugeValues.activeSequences);
  readonly inFlight = new Gauge('stellar_http_in_flight_requests', 'Generation requests being served', () => this.inFlightCount);
  inFlightCount = 0;

  /** The exposition text, with gauges taken from the engine's current snapshot. */
  render(engine: EngineGauges): string {
    this.gaugeValues = engine;
    const all: Metric[] = [this.requests, this.promptTokens, this.completionTokens, this.finished, this.queueDepth, this.active, this.inFlight, this.latency, this.ttft, this.itl];
    for (const m of all) if (m instanceof Gauge) m.refresh();
    return all.map((m) => m.render()).join('\n') + '\n';
  }
}
