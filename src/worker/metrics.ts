/**
 * Prometheus metrics of the data plane (prefix `appproxy_worker_`). The worker registers them in
 * the registry it is given; the composition root mounts `/metrics`. Several workers may share one
 * registry (their figures add up), so an existing metric of the same name is reused.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge(registry: Registry, name: string, help: string): Gauge {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge;
  return new Gauge({ name, help, registers: [registry] });
}

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export class WorkerMetrics {
  private readonly byClass: ReturnType<Counter<'code_class'>['labels']>[];
  private readonly upstreamErrors: Counter<'code'>;
  readonly openConnections: Gauge;
  readonly circuits: Gauge;

  constructor(registry: Registry) {
    const requests = counter(
      registry,
      'appproxy_worker_requests_total',
      'Requests answered, by status class.',
      ['code_class'],
    );
    // Children resolved once so the hot path does no label lookup.
    this.byClass = CLASSES.map((c) => requests.labels(c));
    this.upstreamErrors = counter(
      registry,
      'appproxy_worker_upstream_errors_total',
      'Upstream failures, by AppProxy error code.',
      ['code'],
    );
    this.openConnections = gauge(registry, 'appproxy_worker_open_connections', 'Open client connections.');
    this.circuits = gauge(registry, 'appproxy_worker_circuits', 'Circuits served.');
  }

  countStatus(status: number): void {
    const i = Math.floor(status / 100) - 1;
    this.byClass[i < 0 || i > 4 ? 4 : i]!.inc();
  }

  countUpstreamError(code: string): void {
    this.upstreamErrors.labels(code).inc();
  }
}
