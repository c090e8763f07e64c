/**
 * Prometheus metrics of the data plane (prefix `appproxy_worker_`). The worker registers them in
 * the registry it is given; the composition root mounts `/metrics`. Several workers may share one
 * registry (their figures add up), so an existing metric of the same name is reused.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Flushers of plain-number counts, run when the registry collects (a scrape). */
const collectors = new WeakMap<object, Set<() => void>>();

/**
 * The counter `name` of `registry`, registered on first use (several workers may share one
 * registry: their figures add up). Its collect hook runs the plain-number flushers of its users.
 */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  const c: Counter<L> = new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const f of collectors.get(c) ?? []) f();
    },
  });
  collectors.set(c, new Set());
  return c;
}

/** The gauge `name` of `registry`, registered on first use (shared as `counter`'s are). */
export function gauge<L extends string = string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[] = [],
): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

/** The histogram `name` of `registry`, registered on first use (shared as `counter`'s are). */
export function histogram<L extends string = string>(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
  labelNames: L[] = [],
): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram({ name, help, buckets, labelNames, registers: [registry] });
}

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * Hot-path counts of one counter's fixed label values, kept as plain numbers (a prom-client `inc`
 * hashes and validates its labels on every call) and moved into the counter when the registry
 * collects. A counter registered by someone else has no collect hook of ours: counted directly.
 */
class BatchedCounts<L extends string> {
  private readonly children: ReturnType<Counter<L>['labels']>[];
  private readonly pending: number[];
  private readonly flushers: Set<() => void> | undefined;

  constructor(c: Counter<L>, label: L, values: readonly string[]) {
    // Children resolved once so the hot path does no label lookup.
    this.children = values.map((v) => c.labels({ [label]: v } as Partial<Record<L, string>>));
    this.pending = values.map(() => 0);
    this.flushers = collectors.get(c);
    this.flushers?.add(this.flush);
  }

  inc(i: number): void {
    if (this.flushers) this.pending[i] = this.pending[i]! + 1;
    else this.children[i]!.inc();
  }

  readonly flush = (): void => {
    for (let i = 0; i < this.pending.length; i++) {
      const n = this.pending[i]!;
      if (n > 0) {
        this.pending[i] = 0;
        this.children[i]!.inc(n);
      }
    }
  };

  /** Moves what is pending into the counter and stops following the registry. */
  detach(): void {
    this.flush();
    this.flushers?.delete(this.flush);
  }
}

/**
 * What a revocation refused or ended: app cookies (`cookie`; `unconfirmed` while the set is stale),
 * setup and tunnel tokens (`token`), live connections closed (`connection`) and raw TCP connections
 * refused at accept (`tcp`).
 */
export type RevokedWhat = 'cookie' | 'unconfirmed' | 'token' | 'connection' | 'tcp';

export class WorkerMetrics {
  /** Requests by status class (1xx…5xx). */
  private readonly byClass: BatchedCounts<'code_class'>;
  /** The HTTP/1.1 fast path's requests: relayed by it (0), or handed to node:http (1). */
  private readonly fastPath: BatchedCounts<'outcome'>;
  private readonly upstreamErrors: Counter<'code'>;
  readonly openConnections: Gauge;
  readonly circuits: Gauge;
  /** Revocation records held. */
  readonly revocations: Gauge;
  private readonly revoked: Counter<'what'>;
  private readonly revocationLag: Histogram;

  constructor(registry: Registry) {
    const requests = counter(
      registry,
      'appproxy_worker_requests_total',
      'Requests answered, by status class.',
      ['code_class'],
    );
    this.byClass = new BatchedCounts(requests, 'code_class', CLASSES);
    const fastPath = counter(
      registry,
      'appproxy_worker_fast_path_total',
      'HTTP/1.1 requests read by the fast path: relayed by it (served), or handed to node:http (handed_over: upgrades, HTTP/1.0, Expect, reserved paths, refused cookies, endpoint circuits…).',
      ['outcome'],
    );
    this.fastPath = new BatchedCounts(fastPath, 'outcome', ['served', 'handed_over']);
    this.upstreamErrors = counter(
      registry,
      'appproxy_worker_upstream_errors_total',
      'Upstream failures, by AppProxy error code.',
      ['code'],
    );
    this.openConnections = gauge(registry, 'appproxy_worker_open_connections', 'Open client connections.');
    this.circuits = gauge(registry, 'appproxy_worker_circuits', 'Circuits served.');
    this.revocations = gauge(registry, 'appproxy_worker_revocations', 'Revocation records held.');
    this.revoked = counter(
      registry,
      'appproxy_worker_revoked_total',
      'Refused or ended by a revocation: app cookies (cookie; unconfirmed while the revocation set is stale), setup and tunnel tokens (token), live connections closed (connection), raw TCP connections refused (tcp).',
      ['what'],
    );
    this.revocationLag = histogram(
      registry,
      'appproxy_worker_revocation_lag_seconds',
      "From a revocation record's time to its enforcement by this worker (records that arrive while it runs).",
      [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    );
  }

  countRevoked(what: RevokedWhat, n = 1): void {
    if (n > 0) this.revoked.labels(what).inc(n);
  }

  /** A record enforced `lagMs` after it was made (clock skew can make it negative: 0 then). */
  observeRevocationLag(lagMs: number): void {
    this.revocationLag.observe(Math.max(0, lagMs) / 1000);
  }

  countStatus(status: number): void {
    const i = ((status / 100) | 0) - 1;
    this.byClass.inc(i < 0 || i > 4 ? 4 : i);
  }

  /** A request the fast path relayed (`served`) or gave to node:http. */
  countFastPath(served: boolean): void {
    this.fastPath.inc(served ? 0 : 1);
  }

  /** Moves pending counts into the registry and stops following it (worker closed). */
  detach(): void {
    this.byClass.detach();
    this.fastPath.detach();
  }

  countUpstreamError(code: string): void {
    this.upstreamErrors.labels(code).inc();
  }
}
