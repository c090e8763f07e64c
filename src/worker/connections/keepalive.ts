/**
 * The worker's one keepalive and idle sweeper: connections that need a clock (WebSocket pings and
 * idle timeouts, tunnel heartbeats) are walked by one interval per tick length instead of owning
 * timers. 10k idle WebSockets on the default 30 min timeout cost one 1 s interval walking 10k
 * objects, not 10k timers; a relayed chunk never reads a clock. Tick lengths are few (powers of
 * two for WebSockets, the configured ping interval for tunnels), and an interval runs only while
 * a connection of its length lives. The worker owns the sweeper and closes it on shutdown.
 */

/** TCP keepalive probes start after this long without traffic (vanished peers are found), both sides. */
export const TCP_KEEPALIVE_MS = 30_000;

/** How long a backend may take to accept a connection (pools, raw pools, relays, tunnels). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** A connection the sweeper visits every tick. */
export interface Swept {
  sweep(now: number): void;
}

class Tick {
  readonly members = new Set<Swept>();
  timer: NodeJS.Timeout | null = null;
}

export class Keepalive {
  private readonly ticks = new Map<number, Tick>();
  private closed = false;

  /** Visits `member` every `tickMs` until `delete`. */
  add(member: Swept, tickMs: number): void {
    if (this.closed) return;
    let t = this.ticks.get(tickMs);
    if (!t) {
      t = new Tick();
      this.ticks.set(tickMs, t);
    }
    t.members.add(member);
    if (t.timer === null) {
      const tick = t;
      t.timer = setInterval(() => {
        const now = Date.now();
        for (const m of tick.members) m.sweep(now);
      }, tickMs);
      t.timer.unref();
    }
  }

  delete(member: Swept, tickMs: number): void {
    const t = this.ticks.get(tickMs);
    if (!t?.members.delete(member)) return;
    if (t.members.size === 0) {
      if (t.timer) clearInterval(t.timer);
      this.ticks.delete(tickMs);
    }
  }

  /** Connections visited now, over all tick lengths. */
  get size(): number {
    let n = 0;
    for (const t of this.ticks.values()) n += t.members.size;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const t of this.ticks.values()) if (t.timer) clearInterval(t.timer);
    this.ticks.clear();
  }
}
