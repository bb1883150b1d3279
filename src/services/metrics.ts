/**
 * Process-local Prometheus metrics (each instance exposes its own; Prometheus sums them).
 * Label values come from fixed sets (route patterns, verify codes), never from user input.
 */
type Labels = Record<string, string>;

const key = (labels: Labels): string =>
  Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
    .join(',');

class Counter {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  /** A series with its label key resolved once (hot paths keep these instead of passing labels). */
  series(labels: Labels): { inc(by?: number): void } {
    const k = key(labels);
    return { inc: (by = 1) => this.values.set(k, (this.values.get(k) ?? 0) + by) };
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return lines.join('\n');
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}
  observe(labels: Labels, value: number): void {
    this.observeKey(key(labels), value);
  }
  /** A series with its label key resolved once. */
  handle(labels: Labels): { observe(value: number): void } {
    const k = key(labels);
    return { observe: (value) => this.observeKey(k, value) };
  }
  private observeKey(k: string, value: number): void {
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i] += 1;
    s.sum += value;
    s.count += 1;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : '';
      for (const [i, b] of this.buckets.entries()) lines.push(`${this.name}_bucket{${sep}le="${b}"} ${s.counts[i]}`);
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export class Metrics {
  readonly requests = new Histogram(
    'siwe_keys_http_request_duration_seconds',
    'HTTP request latency by route pattern, method and status class.',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  readonly verifications = new Counter('siwe_keys_verifications_total', 'POST /v1/verify answers by code and domain visibility.');
  readonly signIns = new Counter('siwe_keys_sign_ins_total', 'Sign-in attempts by result code.');
  readonly charges = new Counter('siwe_keys_charges_total', 'Charges by source (verify, usage).');
  readonly credits = new Counter('siwe_keys_credits_charged_total', 'Credits charged by source (verify, usage).');
  readonly uncharged = new Counter(
    'siwe_keys_credits_uncharged_total',
    'Usage credits recorded but not chargeable (balance or key windows exhausted).',
  );

  render(): string {
    return `${[this.requests, this.verifications, this.signIns, this.charges, this.credits, this.uncharged].map((m) => m.render()).join('\n')}\n`;
  }
}
