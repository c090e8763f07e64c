/**
 * Activity per circuit (bytes moved and when), counted in memory as plain numbers and flushed as
 * deltas in one `counters.batch` per tick. Bytes are sampled from the client sockets' byte
 * counters (see `Circuit.sample`), so HTTP, WebSocket, raw TCP and tunnels count the same way and
 * the hot path does no per-chunk work. A failing counters store never affects proxying: the deltas
 * stay in memory and go out with the next successful flush.
 */
import type { Logger } from 'pino';
import {
  ACTIVITY_TTL_MS,
  counterKeys,
  LEGACY_ACTIVITY_TTL_MS,
  legacyActivityKeys,
} from '../../contracts/activity.ts';
import type { CounterOp, CounterStore } from '../../stores/types.ts';

export class ActivityCell {
  bytesIn = 0;
  bytesOut = 0;
  requests = 0;
  /** Epoch ms; 0 = nothing since the last flush. */
  lastClientAt = 0;
  lastBackendAt = 0;
  /** Open connections as last written to the counters store (0: nothing written, or a 0). */
  reportedOpen = 0;
}

/** What the flusher needs from a circuit. */
export interface ActivitySource {
  readonly id: string;
  /** The session it serves (null: an endpoint's circuit). */
  readonly sessionId?: string | null;
  readonly activity: ActivityCell;
  /** Moves byte counts of live connections into `activity`. */
  sample(now: number): void;
  openConnections(): number;
}

export interface ActivityFlusherOptions {
  counters: CounterStore;
  reporter: string;
  flushMs: number;
  logger: Logger;
  live: () => Iterable<ActivitySource>;
  /** True while Backend.AI's last-access keys are wanted too (`legacyCoordinatorApi`). */
  legacyKeys?: () => boolean;
}

export class ActivityFlusher {
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  /** Closed circuits whose last deltas are not flushed yet. */
  private retired: ActivitySource[] = [];
  private failures = 0;
  /** Flush passes completed (with or without anything to write, stored or failed). */
  passes = 0;

  constructor(private readonly opts: ActivityFlusherOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
    this.timer.unref();
  }

  /** A closed circuit: its last deltas go out with the next flush, and its open count drops to 0. */
  retire(source: ActivitySource): void {
    source.sample(Date.now());
    this.retired.push(source);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** One flush at a time; a tick that finds one running is skipped. */
  flush(): Promise<void> {
    if (!this.flushing)
      this.flushing = this.doFlush().finally(() => {
        this.passes++;
        this.flushing = null;
      });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const now = Date.now();
    const ops: CounterOp[] = [];
    const taken: [ActivityCell, ActivityCell][] = [];
    const openTtl = this.opts.flushMs * 3;
    const legacy = this.opts.legacyKeys?.() === true;
    const collect = (s: ActivitySource, open: number) => {
      const c = s.activity;
      const id = s.id;
      if (c.bytesIn || c.bytesOut || c.requests || c.lastClientAt || c.lastBackendAt) {
        const copy = Object.assign(new ActivityCell(), c);
        taken.push([c, copy]);
        if (c.bytesIn)
          ops.push({ type: 'incr', key: counterKeys.bytesIn(id), by: c.bytesIn, ttlMs: ACTIVITY_TTL_MS });
        if (c.bytesOut)
          ops.push({ type: 'incr', key: counterKeys.bytesOut(id), by: c.bytesOut, ttlMs: ACTIVITY_TTL_MS });
        if (c.requests)
          ops.push({ type: 'incr', key: counterKeys.requests(id), by: c.requests, ttlMs: ACTIVITY_TTL_MS });
        if (c.lastClientAt) {
          ops.push({
            type: 'max',
            key: counterKeys.lastClientAt(id),
            value: c.lastClientAt,
            ttlMs: ACTIVITY_TTL_MS,
          });
        }
        if (c.lastBackendAt) {
          ops.push({
            type: 'max',
            key: counterKeys.lastBackendAt(id),
            value: c.lastBackendAt,
            ttlMs: ACTIVITY_TTL_MS,
          });
        }
        const lastAt = Math.max(c.lastClientAt, c.lastBackendAt);
        if (legacy && lastAt > 0) {
          // Backend.AI's keys: epoch seconds, last writer wins (as its own workers write them).
          const value = (lastAt / 1000).toFixed(3);
          const ttlMs = LEGACY_ACTIVITY_TTL_MS;
          ops.push({ type: 'set', key: legacyActivityKeys.circuitLastAccess(id), value, ttlMs });
          if (s.sessionId)
            ops.push({ type: 'set', key: legacyActivityKeys.sessionLastAccess(s.sessionId), value, ttlMs });
        }
        c.bytesIn = c.bytesOut = c.requests = c.lastClientAt = c.lastBackendAt = 0;
      }
      // An absent key reads as 0, so a circuit without open connections costs no write: with
      // 10k idle circuits, writing every count every tick was 10k store writes per second.
      // A count that drops to 0 is written once; a live one is refreshed before its TTL lapses.
      if (open > 0 || c.reportedOpen > 0) {
        ops.push({
          type: 'set',
          key: counterKeys.openConnections(id, this.opts.reporter),
          value: String(open),
          ttlMs: openTtl,
        });
        c.reportedOpen = open;
      }
    };
    // Retired first: a replaced circuit shares its id (and open-connections key) with the live one.
    const retired = this.retired;
    this.retired = [];
    for (const s of retired) collect(s, 0);
    for (const s of this.opts.live()) {
      s.sample(now);
      collect(s, s.openConnections());
    }
    if (ops.length === 0) return;
    try {
      await this.opts.counters.batch(ops);
      if (this.failures > 0) this.opts.logger.info({ failures: this.failures }, 'activity flush recovered');
      this.failures = 0;
    } catch (err) {
      // Put the deltas back so they go out with the next successful flush.
      for (const [cell, d] of taken) {
        cell.bytesIn += d.bytesIn;
        cell.bytesOut += d.bytesOut;
        cell.requests += d.requests;
        cell.lastClientAt = Math.max(cell.lastClientAt, d.lastClientAt);
        cell.lastBackendAt = Math.max(cell.lastBackendAt, d.lastBackendAt);
      }
      this.retired.push(...retired);
      if (this.failures++ % 30 === 0) this.opts.logger.warn({ err }, 'activity flush failed; keeping deltas');
    }
  }
}
