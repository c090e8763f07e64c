/**
 * A route's recent traffic as a worker process counts it and the manager merges it: requests,
 * errors and latency over a sliding window. Latencies go into log-spaced buckets (each 25% wider
 * than the last) rather than percentiles, because the manager sums several processes' reports and
 * percentiles do not add; a percentile read from the summed buckets is exact to one bucket (±12%).
 */
import type {
  RouteHealth,
  RouteHealthReport,
  RouteHealthState,
  RouteTraffic,
  RouteTrafficReport,
} from '../contracts/endpoint.ts';

/** How far back the window reaches, and how finely it slides. */
export const TRAFFIC_WINDOW_MS = 60_000;
const SLICE_MS = 10_000;
const SLICES = TRAFFIC_WINDOW_MS / SLICE_MS;

const GROWTH = 1.25;
const LOG_GROWTH = Math.log(GROWTH);
/** Bucket 0 holds everything up to 1 ms; bucket i up to 1.25^i ms; the last is open-ended (~10 min). */
const BUCKETS = 61;

export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(ms) / LOG_GROWTH - 1e-9));
}

/** The upper bound of bucket `i` in milliseconds: what a percentile falling in it reads as. */
export function bucketUpperMs(i: number): number {
  return GROWTH ** i;
}

/** Counts per bucket, trailing zeros dropped (what reports carry). */
export type Buckets = number[];

/** The `q` quantile (0–1) of bucketed latencies, in ms rounded to 0.1; null without samples. */
export function percentileOf(counts: Buckets, q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return Math.round(bucketUpperMs(i) * 10) / 10;
  }
  return null;
}

export function addBuckets(into: Buckets, from: readonly number[]): void {
  for (let i = 0; i < from.length && i < BUCKETS; i++) {
    const n = from[i];
    if (typeof n !== 'number' || !(n >= 0)) continue;
    into[i] = (into[i] ?? 0) + n;
  }
  for (let i = 0; i < into.length; i++) if (into[i] === undefined) into[i] = 0;
}

interface Slice {
  start: number;
  requests: number;
  errors: number;
  latency: number[];
  ttft: number[];
}

function emptySlice(start: number): Slice {
  return { start, requests: 0, errors: 0, latency: [], ttft: [] };
}

/** The sliding window of one route in one process: six 10-second slices, the oldest replaced. */
export class RouteWindow {
  private readonly slices: Slice[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  private current(): Slice {
    const t = this.now();
    const start = t - (t % SLICE_MS);
    const last = this.slices.at(-1);
    if (last && last.start === start) return last;
    const s = emptySlice(start);
    this.slices.push(s);
    while (this.slices.length > SLICES) this.slices.shift();
    return s;
  }

  record(error: boolean, latencyMs: number, ttftMs: number | null): void {
    const s = this.current();
    s.requests++;
    if (error) s.errors++;
    const b = bucketOf(latencyMs);
    s.latency[b] = (s.latency[b] ?? 0) + 1;
    if (ttftMs !== null) {
      const f = bucketOf(ttftMs);
      s.ttft[f] = (s.ttft[f] ?? 0) + 1;
    }
  }

  /** The window's totals (slices older than the window left out); null when it saw nothing. */
  report(): RouteTrafficReport | null {
    const oldest = this.now() - TRAFFIC_WINDOW_MS;
    const out: RouteTrafficReport = { requests: 0, errors: 0, latency: [], ttft: [] };
    for (const s of this.slices) {
      if (s.start + SLICE_MS <= oldest) continue;
      out.requests += s.requests;
      out.errors += s.errors;
      addBuckets(out.latency, s.latency);
      addBuckets(out.ttft, s.ttft);
    }
    return out.requests === 0 ? null : out;
  }
}

/** Sums per-process windows (and in-flight counts) into the API's view of one route. */
export class RouteTrafficSum {
  private inflight = 0;
  private requests = 0;
  private errors = 0;
  private readonly latency: Buckets = [];
  private readonly ttft: Buckets = [];

  add(inflight: number, w: RouteTrafficReport | null | undefined): void {
    if (Number.isFinite(inflight) && inflight > 0) this.inflight += inflight;
    if (!w) return;
    if (Number.isFinite(w.requests) && w.requests > 0) this.requests += w.requests;
    if (Number.isFinite(w.errors) && w.errors > 0) this.errors += w.errors;
    if (Array.isArray(w.latency)) addBuckets(this.latency, w.latency);
    if (Array.isArray(w.ttft)) addBuckets(this.ttft, w.ttft);
  }

  result(): RouteTraffic {
    return {
      windowS: TRAFFIC_WINDOW_MS / 1000,
      inflight: this.inflight,
      requests: this.requests,
      errors: this.errors,
      errorRate: this.requests === 0 ? null : Math.round((this.errors / this.requests) * 10_000) / 10_000,
      latencyMs: {
        p50: percentileOf(this.latency, 0.5),
        p90: percentileOf(this.latency, 0.9),
        p99: percentileOf(this.latency, 0.99),
      },
      ttftMs: { p50: percentileOf(this.ttft, 0.5), p99: percentileOf(this.ttft, 0.99) },
    };
  }
}

const SEVERITY: Record<RouteHealthState, number> = { healthy: 0, starting: 1, ejected: 2, unhealthy: 3 };

/**
 * Merges the reports of every worker process into one health and one traffic sum per route (key:
 * route id or address).
 */
export function mergeRouteHealth(reports: { routes: RouteHealthReport[] }[]): {
  health: Map<string, RouteHealth>;
  traffic: Map<string, RouteTraffic>;
} {
  const out = new Map<string, RouteHealth>();
  const sums = new Map<string, RouteTrafficSum>();
  for (const rep of reports) {
    for (const r of rep.routes) {
      const id = r.route ?? r.key;
      let sum = sums.get(id);
      if (!sum) {
        sum = new RouteTrafficSum();
        sums.set(id, sum);
      }
      sum.add(r.inflight ?? 0, r.traffic);
      const h = out.get(id);
      const probe = r.lastProbeAt === null ? null : new Date(r.lastProbeAt).toISOString();
      if (!h) {
        out.set(id, {
          state: r.state,
          reporters: 1,
          lastProbeAt: probe,
          lastError: r.lastError,
          ejections: r.ejections,
        });
        continue;
      }
      h.reporters++;
      h.ejections += r.ejections;
      if (SEVERITY[r.state] > SEVERITY[h.state]) h.state = r.state;
      if (probe !== null && (h.lastProbeAt === null || probe > h.lastProbeAt)) h.lastProbeAt = probe;
      if (r.lastError !== null) h.lastError = r.lastError;
    }
  }
  const traffic = new Map<string, RouteTraffic>();
  for (const [id, sum] of sums) traffic.set(id, sum.result());
  return { health: out, traffic };
}
