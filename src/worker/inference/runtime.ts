/**
 * What a worker keeps per inference endpoint it serves, beside the circuit's upstream: the routes'
 * health (active probes, passive ejection, panic, slow start: `upstream/health.ts`), the picker of
 * its balancing policy (`balancer.ts`, or the prefix/LLM-aware `upstream/llm-picker.ts` fed by the
 * engines' own metrics), and admission — a concurrency cap with a bounded queue, a hold queue for
 * requests that arrive while no route is ready, and a retry budget.
 *
 * Everything here is per worker process: the concurrency cap and the hold queue are local (each
 * process admits up to its cap), while key limits and usage go through the shared counter store.
 */
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import {
  type BalancingPolicy,
  type EndpointSettings,
  endpointCounterKeys,
  endpointSettingsWithDefaults,
  type ResolvedEndpointSettings,
  type RouteHealthReport,
} from '../../contracts/endpoint.ts';
import { RouteWindow } from '../../core/route-traffic.ts';
import type { CounterStore } from '../../stores/types.ts';
import { Balancer } from '../upstream/balancer.ts';
import { EngineScraper } from '../upstream/engine-metrics.ts';
import { HealthTracker } from '../upstream/health.ts';
import { LlmPicker } from '../upstream/llm-picker.ts';
import type { PromptKey } from '../upstream/prefix-cache.ts';
import type { BackendEntry, Upstream } from '../upstream/upstream.ts';
import type { KeyLimiter } from './limits.ts';
import type { EndpointMetrics } from './metrics.ts';
import type { UsageRecorder } from './usage.ts';

/** What every endpoint runtime of a data plane shares. */
export interface InferenceDeps {
  limiter: KeyLimiter;
  usage: UsageRecorder;
  metrics: EndpointMetrics;
  counters: CounterStore;
  logger: Logger;
  /** The worker's authority: route health reports are written under it. */
  worker: string;
  /** This process among the worker's (`<authority>:<pid>`): each process reports its own view. */
  reporter: string;
}

/** A request waiting in one of the runtime's queues; `resume` is called once when it may go on. */
export interface Waiter {
  resume(): void;
}

/** An attempt awaiting its response head on a route (aborted and retried if the route turns unusable). */
export interface PendingAttempt {
  routeUnusable(): void;
}

/** Route health reports live this long in the counter store without a refresh. */
const HEALTH_REPORT_TTL_MS = 15_000;
const HEALTH_REPORT_EVERY_MS = 2_000;

function loadOnly(policy: BalancingPolicy): boolean {
  return policy !== 'prefix' && policy !== 'llm';
}

export class EndpointRuntime {
  settings: ResolvedEndpointSettings;
  readonly health: HealthTracker;
  private readonly balancer: Balancer<BackendEntry>;
  private picker: LlmPicker | null = null;
  private scraper: EngineScraper | null = null;
  /** Requests with an attempt in flight (awaiting a head or streaming). */
  active = 0;
  retriesInFlight = 0;
  private readonly queued: Waiter[] = [];
  private readonly held: Waiter[] = [];
  private readonly awaiting = new Map<string, Set<PendingAttempt>>();
  private readonly reportTimer: NodeJS.Timeout;
  private lastEjections = new Map<string, number>();
  /** Each route's last minute of answers (requests, errors, latency) in this process. */
  private readonly traffic = new Map<string, RouteWindow>();
  private closed = false;

  constructor(
    readonly endpointId: string,
    spec: EndpointSettings,
    private readonly upstream: Upstream,
    private readonly deps: InferenceDeps,
  ) {
    this.settings = endpointSettingsWithDefaults(spec);
    this.balancer = new Balancer(this.settings.balancing);
    this.health = new HealthTracker({
      check: this.settings.healthCheck,
      passive: this.settings.passive,
      slowStartMs: this.settings.slowStartMs,
      onChange: (key, usable) => this.onUsability(key, usable),
    });
    this.configurePicker();
    upstream.onChange = () => this.onRoutes();
    this.onRoutes();
    this.reportTimer = setInterval(() => this.publishHealth(), HEALTH_REPORT_EVERY_MS);
    this.reportTimer.unref();
  }

  /** The endpoint's settings changed in place (the circuit's spec). */
  update(spec: EndpointSettings): void {
    const before = this.settings;
    this.settings = endpointSettingsWithDefaults(spec);
    this.balancer.policy = this.settings.balancing;
    this.health.setSettings(this.settings.healthCheck, this.settings.passive, this.settings.slowStartMs);
    if (
      before.balancing !== this.settings.balancing ||
      JSON.stringify(before.engineMetrics) !== JSON.stringify(this.settings.engineMetrics)
    )
      this.configurePicker();
    this.drainQueue();
    this.releaseHeld();
  }

  private configurePicker(): void {
    const policy = this.settings.balancing;
    this.picker = loadOnly(policy) ? null : new LlmPicker(policy as 'prefix' | 'llm');
    this.scraper?.close();
    this.scraper = null;
    const m = this.settings.engineMetrics;
    if (policy === 'llm' && m) {
      this.scraper = new EngineScraper({
        path: m.path,
        intervalMs: m.intervalMs,
        timeoutMs: Math.min(m.intervalMs, 2_000),
        staleMs: m.staleMs,
      });
      this.scraper.setTargets(this.targets());
    }
  }

  private targets(): { key: string; host: string; port: number; route?: string; weight: number }[] {
    return this.upstream.routes.map((e) => ({
      key: e.key,
      host: e.backend.host,
      port: e.backend.port,
      route: e.route,
      weight: e.baseWeight,
    }));
  }

  /** The backend set changed: health and scraping follow it; held requests may go on. */
  private onRoutes(): void {
    if (this.closed) return;
    const targets = this.targets();
    this.health.setTargets(targets);
    this.scraper?.setTargets(targets);
    if (this.picker) {
      const live = new Set(targets.map((t) => t.key));
      for (const k of this.knownKeys) if (!live.has(k)) this.picker.forget(k);
      this.knownKeys = live;
    }
    this.releaseHeld();
  }
  private knownKeys = new Set<string>();

  private onUsability(key: string, usable: boolean): void {
    if (usable) {
      this.releaseHeld();
      return;
    }
    // Requests still waiting for a head on a route that stopped answering probes (or was
    // ejected) would wait out the headers timeout: they have sent nothing, so they go elsewhere.
    const pending = this.awaiting.get(key);
    if (pending) for (const a of [...pending]) a.routeUnusable();
  }

  /**
   * The request's prompt as the policy sees it (chained block hashes), or null when the policy
   * ignores prompts. The picker's own hashing: its block size is the one its cache model uses.
   */
  promptKey(body: Record<string, unknown>): PromptKey | null {
    return this.picker ? this.picker.promptKey(body) : null;
  }

  /** A stream the route answered, its ms per output token: the `llm` picker's pace of the route. */
  observePace(entry: BackendEntry, msPerToken: number): void {
    this.picker?.observePace(entry.key, msPerToken);
  }

  dispatchTo(
    entry: BackendEntry,
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): void {
    this.upstream.dispatchTo(entry, opts, handler);
  }

  /** True when some route may take a request now. */
  get ready(): boolean {
    for (const e of this.upstream.routes) if (e.baseWeight > 0 && this.health.usable(e.key)) return true;
    return false;
  }

  /**
   * The route for a request: usable, not already tried, chosen by the policy (prefix affinity
   * and engine load for `prefix`/`llm`; `affinity` pins a header value to a route). Null: none.
   */
  choose(
    prompt: PromptKey | null,
    affinity: string | null,
    tried: ReadonlySet<BackendEntry> | null,
  ): BackendEntry | null {
    const routes = this.upstream.routes;
    let any = false;
    for (const e of routes) {
      const usable = e.baseWeight > 0 && this.health.usable(e.key) && !tried?.has(e);
      e.weight = usable ? e.baseWeight * this.health.weightFactor(e.key) : 0;
      if (usable) any = true;
    }
    if (!any) return null;
    if (this.picker) {
      if (this.scraper) for (const e of routes) e.engine = this.scraper.signals(e.key);
      return this.picker.pick(routes, prompt, affinity);
    }
    if (affinity !== null) return rendezvous(routes, affinity);
    return this.balancer.pick(routes);
  }

  /** Whether one more retry fits the budget (a share of the requests in flight, with a floor). */
  retryAllowed(): boolean {
    const r = this.settings.retry;
    return this.retriesInFlight < Math.max(r.minRetries, Math.floor((this.active * r.budgetPercent) / 100));
  }

  /**
   * A slot for one more request in flight: true = go now; false = it was queued (`resume` when a
   * slot frees); null = the queue is full too.
   */
  admit(w: Waiter): boolean | null {
    const { maxConcurrent, queue } = this.settings.limits;
    if (maxConcurrent === null || this.active < maxConcurrent) {
      this.active++;
      return true;
    }
    if (this.queued.length >= queue) return null;
    this.queued.push(w);
    this.deps.metrics.queued(this.endpointId, this.queued.length);
    return false;
  }

  /** A request in flight ended: its slot goes to the first queued one. */
  release(): void {
    this.active--;
    this.drainQueue();
  }

  /** A queued request went away before its turn. */
  leaveQueue(w: Waiter): void {
    const i = this.queued.indexOf(w);
    if (i >= 0) this.queued.splice(i, 1);
    this.deps.metrics.queued(this.endpointId, this.queued.length);
  }

  private drainQueue(): void {
    // Most releases find the queue empty: no gauge update then (it already reads 0).
    if (this.queued.length === 0) return;
    const { maxConcurrent } = this.settings.limits;
    while (this.queued.length > 0 && (maxConcurrent === null || this.active < maxConcurrent)) {
      this.active++;
      this.queued.shift()!.resume();
    }
    this.deps.metrics.queued(this.endpointId, this.queued.length);
  }

  /** Waits for a ready route; false when the hold queue is full (or holding is off). */
  hold(w: Waiter): boolean {
    const h = this.settings.hold;
    if (h.timeoutMs <= 0 || this.held.length >= h.maxRequests) return false;
    this.held.push(w);
    this.deps.metrics.held(this.endpointId, this.held.length);
    return true;
  }

  unhold(w: Waiter): void {
    const i = this.held.indexOf(w);
    if (i >= 0) this.held.splice(i, 1);
    this.deps.metrics.held(this.endpointId, this.held.length);
  }

  /** A route turned usable (or routes changed): every held request tries again, in arrival order. */
  private releaseHeld(): void {
    if (this.held.length === 0 || !this.ready) return;
    const waiting = this.held.splice(0);
    this.deps.metrics.held(this.endpointId, 0);
    for (const w of waiting) w.resume();
  }

  awaitingHead(entry: BackendEntry, a: PendingAttempt): void {
    let set = this.awaiting.get(entry.key);
    if (!set) {
      set = new Set();
      this.awaiting.set(entry.key, set);
    }
    set.add(a);
  }

  headDone(entry: BackendEntry, a: PendingAttempt): void {
    const set = this.awaiting.get(entry.key);
    if (!set) return;
    set.delete(a);
    if (set.size === 0) this.awaiting.delete(entry.key);
  }

  /** A request a route answered (or failed) is over: its route's window counts it. */
  answered(route: string, error: boolean, latencyMs: number, ttftMs: number | null): void {
    let w = this.traffic.get(route);
    if (!w) {
      w = new RouteWindow();
      this.traffic.set(route, w);
    }
    w.record(error, latencyMs, ttftMs);
  }

  /**
   * The routes' health, in-flight requests and last minute of traffic as this process sees them,
   * for the API (through the counter store, one key per process) and metrics.
   */
  private publishHealth(): void {
    const metrics = this.deps.metrics;
    const seen = new Map<string, number>();
    const inflight = new Map<string, number>();
    for (const e of this.upstream.routes) inflight.set(e.key, e.inflight);
    const report: RouteHealthReport[] = this.health.report().map((h) => {
      const route = h.route ?? h.key;
      metrics.routeHealthy(this.endpointId, route, h.state === 'healthy');
      const before = this.lastEjections.get(route) ?? 0;
      if (h.ejections > before) metrics.ejected(this.endpointId, route, h.ejections - before);
      seen.set(route, h.ejections);
      return { ...h, inflight: inflight.get(h.key) ?? 0, traffic: this.traffic.get(route)?.report() ?? null };
    });
    this.lastEjections = seen;
    // A route gone from the set keeps no window (its id may come back as a new route).
    for (const route of this.traffic.keys()) if (!seen.has(route)) this.traffic.delete(route);
    void this.deps.counters
      .set(
        endpointCounterKeys.healthReport(this.endpointId, this.deps.reporter),
        JSON.stringify({ at: Date.now(), routes: report }),
        HEALTH_REPORT_TTL_MS,
      )
      .catch((err: unknown) =>
        this.deps.logger.debug({ err, endpointId: this.endpointId }, 'route health report not written'),
      );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reportTimer);
    this.health.close();
    this.scraper?.close();
    this.upstream.onChange = null;
    // Held and queued requests end with the circuit (their sockets are destroyed with it).
    this.held.length = 0;
    this.queued.length = 0;
  }
}

/** FNV-1a of `s` mixed with a route key: the highest score wins (rendezvous hashing). */
function score(a: string, b: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ 0x2f, 0x01000193);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Session affinity: the same header value goes to the same route while that route is usable, and
 * adding or removing other routes moves only the values that had to move.
 */
function rendezvous(routes: readonly BackendEntry[], value: string): BackendEntry | null {
  let best: BackendEntry | null = null;
  let bestScore = -1;
  for (const e of routes) {
    if (e.weight <= 0) continue;
    const s = score(value, e.key);
    if (s > bestScore) {
      best = e;
      bestScore = s;
    }
  }
  return best;
}
