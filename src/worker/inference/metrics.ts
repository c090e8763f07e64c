/**
 * Prometheus metrics of inference endpoints, per endpoint and route. Latency, time to first token
 * and time per output token use the OpenTelemetry GenAI semantic-convention names (as Prometheus
 * spells them: dots become underscores, the unit a suffix); the rest are `appproxy_endpoint_*`.
 * Label values are endpoint ids and route ids (bounded by the endpoints a worker serves).
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { counter, gauge, histogram } from '../observe/metrics.ts';

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320];
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const TPOT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];

export class EndpointMetrics {
  private readonly requests: Counter<'endpoint' | 'route' | 'code_class'>;
  private readonly inflightGauge: Gauge<'endpoint' | 'route'>;
  private readonly retries: Counter<'endpoint'>;
  private readonly ejections: Counter<'endpoint' | 'route'>;
  private readonly healthy: Gauge<'endpoint' | 'route'>;
  private readonly heldGauge: Gauge<'endpoint'>;
  private readonly queuedGauge: Gauge<'endpoint'>;
  private readonly duration: Histogram<'endpoint' | 'route'>;
  private readonly ttft: Histogram<'endpoint' | 'route'>;
  private readonly tpot: Histogram<'endpoint' | 'route'>;
  private readonly tokens: Counter<'endpoint' | 'type'>;
  private readonly refused: Counter<'endpoint' | 'code'>;

  constructor(registry: Registry) {
    const ER = ['endpoint', 'route'] as const;
    this.requests = counter(
      registry,
      'appproxy_endpoint_requests_total',
      'Endpoint requests answered, by route and status class (route "none": no route took it).',
      ['endpoint', 'route', 'code_class'],
    );
    this.inflightGauge = gauge(
      registry,
      'appproxy_endpoint_inflight',
      'Endpoint requests in flight on each route (this process).',
      [...ER],
    );
    this.retries = counter(
      registry,
      'appproxy_endpoint_retries_total',
      'Requests replayed to another route before any byte reached the client.',
      ['endpoint'],
    );
    this.ejections = counter(
      registry,
      'appproxy_endpoint_ejections_total',
      'Routes ejected by passive health (consecutive failures).',
      [...ER],
    );
    this.healthy = gauge(
      registry,
      'appproxy_endpoint_route_healthy',
      '1 when the route is healthy as this process sees it, else 0.',
      [...ER],
    );
    this.heldGauge = gauge(
      registry,
      'appproxy_endpoint_held_requests',
      'Requests waiting for a ready route.',
      ['endpoint'],
    );
    this.queuedGauge = gauge(
      registry,
      'appproxy_endpoint_queued_requests',
      'Requests waiting for a slot under the concurrency cap.',
      ['endpoint'],
    );
    this.duration = histogram(
      registry,
      'gen_ai_server_request_duration_seconds',
      'Endpoint request duration, from arrival to the last byte.',
      LATENCY_BUCKETS,
      [...ER],
    );
    this.ttft = histogram(
      registry,
      'gen_ai_server_time_to_first_token_seconds',
      'Time from arrival to the first generated token reaching the client (streams).',
      TTFT_BUCKETS,
      [...ER],
    );
    this.tpot = histogram(
      registry,
      'gen_ai_server_time_per_output_token_seconds',
      'Time per output token after the first (streams).',
      TPOT_BUCKETS,
      [...ER],
    );
    this.tokens = counter(
      registry,
      'appproxy_endpoint_tokens_total',
      'Tokens by type (input, output, cached) as the engines reported them (or counted, on cut streams).',
      ['endpoint', 'type'],
    );
    this.refused = counter(
      registry,
      'appproxy_endpoint_refused_total',
      'Endpoint requests refused before any route saw them, by error code.',
      ['endpoint', 'code'],
    );
  }

  answered(endpoint: string, route: string, status: number, seconds: number): void {
    const cls = `${Math.min(5, Math.max(1, (status / 100) | 0))}xx`;
    this.requests.labels(endpoint, route, cls).inc();
    this.duration.labels(endpoint, route).observe(seconds);
  }

  refusedWith(endpoint: string, code: string): void {
    this.refused.labels(endpoint, code).inc();
  }

  inflight(endpoint: string, route: string, delta: number): void {
    this.inflightGauge.labels(endpoint, route).inc(delta);
  }

  retried(endpoint: string): void {
    this.retries.labels(endpoint).inc();
  }

  ejected(endpoint: string, route: string, n: number): void {
    this.ejections.labels(endpoint, route).inc(n);
  }

  routeHealthy(endpoint: string, route: string, healthy: boolean): void {
    this.healthy.labels(endpoint, route).set(healthy ? 1 : 0);
  }

  held(endpoint: string, n: number): void {
    this.heldGauge.labels(endpoint).set(n);
  }

  queued(endpoint: string, n: number): void {
    this.queuedGauge.labels(endpoint).set(n);
  }

  firstToken(endpoint: string, route: string, seconds: number): void {
    this.ttft.labels(endpoint, route).observe(seconds);
  }

  perOutputToken(endpoint: string, route: string, seconds: number): void {
    this.tpot.labels(endpoint, route).observe(seconds);
  }

  countTokens(endpoint: string, input: number, output: number, cached: number): void {
    if (input > 0) this.tokens.labels(endpoint, 'input').inc(input);
    if (output > 0) this.tokens.labels(endpoint, 'output').inc(output);
    if (cached > 0) this.tokens.labels(endpoint, 'cached').inc(cached);
  }
}
