/**
 * Token usage per endpoint and key, for the manager's API. A worker adds each answered request to
 * in-memory totals and writes them to the counter store once a second as one `batch` of `incr`
 * (one round trip whatever the traffic), so the request path never waits on the store. Counters
 * are cumulative and live `USAGE_TTL_MS` after their last write: a key unused for that long
 * leaves nothing behind.
 *
 * A flush that fails puts its amounts back, to go with the next one (at least once: a Redis
 * pipeline cut in the middle may have applied part of the batch, which is then counted twice —
 * rarer and smaller than losing a second of usage at every store hiccup).
 */

import { type RecordedUsage, USAGE_FIELDS, USAGE_TTL_MS, usageKeys } from '../../core/endpoint-usage.ts';
import type { CounterOp, CounterStore } from '../../stores/types.ts';

export { type RecordedUsage, readUsage, type UsageTotals, usageKeys } from '../../core/endpoint-usage.ts';

type Amounts = [number, number, number, number, number];

/** A whole number ≥ 0 (INCRBY takes integers; a bad input must not poison a counter). */
function whole(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.round(v) : 0;
}

export interface UsageRecorderOptions {
  /** How often totals go to the store (default 1 000 ms). */
  flushMs?: number;
  ttlMs?: number;
  /** Errors of the periodic flush (the amounts are kept for the next one). */
  onError?: (err: unknown) => void;
}

export class UsageRecorder {
  /** `endpoint\0key` → amounts not yet written. */
  private pending = new Map<string, { endpointId: string; keyId: string | null; a: Amounts }>();
  private readonly timer: NodeJS.Timeout;
  private readonly ttlMs: number;
  private readonly onError: (err: unknown) => void;
  /** Flushes run one after another (a slow store must not see two batches race). */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly counters: CounterStore,
    opts: UsageRecorderOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? USAGE_TTL_MS;
    this.onError = opts.onError ?? (() => {});
    this.timer = setInterval(() => {
      if (this.pending.size > 0) this.flush().catch(this.onError);
    }, opts.flushMs ?? 1_000);
    this.timer.unref();
  }

  /** Adds one answer (or `requests` of them) to the totals of the endpoint and key. */
  record(endpointId: string, keyId: string | null, u: RecordedUsage, requests = 1): void {
    this.add(endpointId, keyId, [
      whole(requests),
      whole(u.promptTokens),
      whole(u.completionTokens),
      whole(u.cachedTokens),
      u.estimated ? whole(requests) : 0,
    ]);
  }

  /** Writes what was recorded so far; rejects when the store does (the amounts are kept). */
  flush(): Promise<void> {
    const run = this.chain.then(() => this.flushOnce());
    this.chain = run.catch(() => {});
    return run;
  }

  /** Stops the periodic flush and writes what is left. Later records wait for an explicit flush. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      clearInterval(this.timer);
    }
    await this.flush();
  }

  private add(endpointId: string, keyId: string | null, a: Amounts): void {
    const k = `${endpointId}\0${keyId ?? ''}`;
    const cur = this.pending.get(k);
    if (!cur) {
      this.pending.set(k, { endpointId, keyId, a });
      return;
    }
    for (let i = 0; i < a.length; i++) cur.a[i]! += a[i]!;
  }

  private async flushOnce(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    const ops: CounterOp[] = [];
    for (const { endpointId, keyId, a } of taken.values()) {
      for (let i = 0; i < USAGE_FIELDS.length; i++) {
        if (a[i] === 0) continue;
        ops.push({
          type: 'incr',
          key: usageKeys.field(endpointId, keyId, USAGE_FIELDS[i]!),
          by: a[i]!,
          ttlMs: this.ttlMs,
        });
      }
    }
    if (ops.length === 0) return;
    try {
      await this.counters.batch(ops);
    } catch (err) {
      for (const { endpointId, keyId, a } of taken.values()) this.add(endpointId, keyId, a);
      throw err;
    }
  }
}
