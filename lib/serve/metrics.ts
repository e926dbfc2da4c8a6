/**
 * The server's counters and histograms, rendered in Prometheus's text exposition format
 * (version 0.0.4: `# HELP` and `# TYPE` lines, then one sample per line; histograms as
 * cumulative `_bucket{le="..."}` samples ending in `+Inf`, plus `_sum` and `_count`).
 */

/** A cumulative histogram with fixed upper bounds, as Prometheus client libraries keep them. */
class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.bounds.forEach((bound, i) => {
      if (value <= bound) this.counts[i] += 1;
    });
    this.sum += value;
    this.count += 1;
  }

  lines(name: string): string[] {
    return [
      ...this.bounds.map((bound, i) => `${name}_bucket{le="${bound}"} ${this.counts[i]}`),
      `${name}_bucket{le="+Inf"} ${this.count}`,
      `${name}_sum ${this.sum}`,
      `${name}_count ${this.count}`,
    ];
  }
}

/** Why a request failed, as the metrics label it. */
export type ErrorKind =
  | 'bad_request'
  | 'not_found'
  | 'method_not_allowed'
  | 'body_too_large'
  | 'unsupported_media'
  | 'unprocessable_image'
  | 'overloaded'
  | 'internal';

function sample(name: string, labels: Record<string, string>, value: number): string {
  const text = Object.entries(labels)
    .map(([key, v]) => `${key}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
    .join(',');
  return `${name}{${text}} ${value}`;
}

function family(name: string, type: string, help: string, samples: string[]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples];
}

export class ServerMetrics {
  private readonly requests = new Map<string, { path: string; code: number; count: number }>();
  private readonly errors = new Map<ErrorKind, number>();
  private disconnects = 0;
  /** Powers of two up to 256: the batch sizes a --max-batch is usually set to. */
  private readonly batchSizes = new Histogram([1, 2, 4, 8, 16, 32, 64, 128, 256]);
  /** Prometheus's default latency buckets (client_golang DefBuckets), in seconds. */
  private readonly latency = new Histogram([
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  ]);

  /** A request answered with `code`; `seconds` from its first byte to its answer. */
  answered(path: string, code: number, seconds: number): void {
    const key = `${path} ${code}`;
    const entry = this.requests.get(key) ?? { path, code, count: 0 };
    entry.count += 1;
    this.requests.set(key, entry);
    this.latency.observe(seconds);
  }

  failed(kind: ErrorKind): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  /** A client closed its connection before the answer. */
  disconnected(): void {
    this.disconnects += 1;
  }

  batch(size: number): void {
    this.batchSizes.observe(size);
  }

  render(): string {
    const requests = [...this.requests.values()].map(({ path, code, count }) =>
      sample('alexnet_http_requests_total', { path, code: String(code) }, count),
    );
    const errors = [...this.errors].map(([kind, count]) =>
      sample('alexnet_http_errors_total', { kind }, count),
    );
    return `${[
      ...family(
        'alexnet_http_requests_total',
        'counter',
        'Requests answered, by path and status code.',
        requests,
      ),
      ...family(
        'alexnet_http_errors_total',
        'counter',
        'Requests answered with an error, by kind.',
        errors,
      ),
      ...family(
        'alexnet_client_disconnects_total',
        'counter',
        'Clients that closed the connection before the answer.',
        [`alexnet_client_disconnects_total ${this.disconnects}`],
      ),
      ...family(
        'alexnet_batch_size',
        'histogram',
        'Images per forward pass.',
        this.batchSizes.lines('alexnet_batch_size'),
      ),
      ...family(
        'alexnet_request_duration_seconds',
        'histogram',
        'Time from a request to its answer.',
        this.latency.lines('alexnet_request_duration_seconds'),
      ),
    ].join('\n')}\n`;
  }
}
