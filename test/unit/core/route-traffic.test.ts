/**
 * A route's traffic window: bucketed latencies whose percentiles stay within one bucket, a window
 * that forgets what is older than a minute, and reports of several processes summed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteHealthReport } from '../../../src/contracts/endpoint.ts';
import {
  bucketOf,
  bucketUpperMs,
  mergeRouteHealth,
  percentileOf,
  RouteWindow,
} from '../../../src/core/route-traffic.ts';

describe('route traffic', () => {
  test('a latency falls in the bucket whose bound is at most 25% above it', () => {
    for (const ms of [0, 0.5, 1, 1.3, 7, 42, 250, 999, 12_345, 90_000]) {
      const b = bucketOf(ms);
      const upper = bucketUpperMs(b);
      assert.ok(upper >= ms, `${ms} ms ≤ bound ${upper}`);
      if (ms > 1) assert.ok(upper <= ms * 1.25 + 1e-9, `${ms} ms: bound ${upper} within 25%`);
    }
    // Beyond the last bucket everything lands in it (no index past the array).
    assert.equal(bucketOf(1e12), bucketOf(1e15));
  });

  test('percentiles of a known spread', () => {
    const w = new RouteWindow(() => 1_000_000);
    for (let i = 1; i <= 100; i++) w.record(i === 100, i * 10, i <= 50 ? 5 : null);
    const r = w.report()!;
    assert.equal(r.requests, 100);
    assert.equal(r.errors, 1);
    const p50 = percentileOf(r.latency, 0.5)!;
    const p99 = percentileOf(r.latency, 0.99)!;
    assert.ok(p50 >= 500 && p50 <= 625, `p50 ${p50}`);
    assert.ok(p99 >= 990 && p99 <= 1240, `p99 ${p99}`);
    assert.ok((percentileOf(r.ttft, 0.5) ?? 0) >= 5);
    assert.equal(percentileOf([], 0.5), null);
  });

  test('the window forgets answers older than a minute', () => {
    let now = 5_000_000;
    const w = new RouteWindow(() => now);
    w.record(true, 10, null);
    now += 30_000;
    w.record(false, 10, null);
    assert.equal(w.report()!.requests, 2);
    now += 40_000;
    const r = w.report()!;
    assert.equal(r.requests, 1, 'the first answer is more than a minute old');
    assert.equal(r.errors, 0);
    now += 60_000;
    assert.equal(w.report(), null);
  });

  test("several processes' reports add up; the worst health stands", () => {
    const a = new RouteWindow(() => 0);
    const b = new RouteWindow(() => 0);
    for (let i = 0; i < 9; i++) a.record(false, 20, null);
    b.record(true, 2000, null);
    const base = { key: '127.0.0.1:1', route: 'r0', lastProbeAt: null, lastError: null, ejections: 0 };
    const reports: { routes: RouteHealthReport[] }[] = [
      { routes: [{ ...base, state: 'healthy', consecutiveFailures: 0, inflight: 2, traffic: a.report() }] },
      { routes: [{ ...base, state: 'ejected', consecutiveFailures: 3, inflight: 1, traffic: b.report() }] },
      // A report of another version (no traffic fields) still counts for health.
      { routes: [{ ...base, state: 'healthy', consecutiveFailures: 0 }] },
    ];
    const { health, traffic } = mergeRouteHealth(reports);
    assert.equal(health.get('r0')?.state, 'ejected');
    assert.equal(health.get('r0')?.reporters, 3);
    const t = traffic.get('r0')!;
    assert.equal(t.inflight, 3);
    assert.equal(t.requests, 10);
    assert.equal(t.errors, 1);
    assert.equal(t.errorRate, 0.1);
    assert.ok(t.latencyMs.p50! >= 20 && t.latencyMs.p50! <= 25);
    assert.ok(t.latencyMs.p99! >= 2000 && t.latencyMs.p99! <= 2500);
    assert.equal(t.ttftMs.p50, null);
  });

  test('hostile numbers in a report are ignored, not summed', () => {
    const { traffic } = mergeRouteHealth([
      {
        routes: [
          {
            key: 'k',
            route: null,
            state: 'healthy',
            lastProbeAt: null,
            lastError: null,
            ejections: 0,
            consecutiveFailures: 0,
            inflight: Number.NaN,
            traffic: { requests: 1, errors: 0, latency: [-5, 'x' as unknown as number, 1], ttft: [] },
          },
        ],
      },
    ]);
    const t = traffic.get('k')!;
    assert.equal(t.inflight, 0);
    assert.equal(t.requests, 1);
    assert.equal(t.latencyMs.p50, Math.round(bucketUpperMs(2) * 10) / 10);
  });
});
