/**
 * In-process counters with Redis semantics (INCRBY, SET with PX, SET NX PX, a Lua-free "max").
 * Expired keys are dropped lazily on read and by a periodic sweep, so memory stays bounded.
 */
import type { CounterOp, CounterStore } from '../types.ts';

interface Slot {
  value: string;
  expiresAt: number; // 0 = never
}

export class EmbeddedCounterStore implements CounterStore {
  private readonly data = new Map<string, Slot>();
  private readonly sweep: NodeJS.Timeout;
  private closed = false;

  constructor(opts: { sweepIntervalMs?: number; now?: () => number } = {}) {
    if (opts.now) this.now = opts.now;
    this.sweep = setInterval(() => this.sweepExpired(), opts.sweepIntervalMs ?? 30_000);
    this.sweep.unref();
  }

  private now: () => number = Date.now;

  async incr(key: string, by = 1, ttlMs?: number): Promise<number> {
    return this.incrSync(key, by, ttlMs);
  }

  async get(key: string): Promise<string | null> {
    return this.read(key);
  }

  async mget(keys: string[]): Promise<(string | null)[]> {
    return keys.map((k) => this.read(k));
  }

  async keys(prefix: string): Promise<string[]> {
    this.assertOpen();
    const out: string[] = [];
    for (const k of this.data.keys()) if (k.startsWith(prefix) && this.read(k) !== null) out.push(k);
    return out;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.write(key, value, ttlMs);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.read(key) !== null) return false;
    this.write(key, value, ttlMs);
    return true;
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    this.data.delete(key);
  }

  async batch(ops: CounterOp[]): Promise<void> {
    this.assertOpen();
    for (const op of ops) {
      if (op.type === 'incr') this.incrSync(op.key, op.by, op.ttlMs);
      else if (op.type === 'set') this.write(op.key, op.value, op.ttlMs);
      else {
        const cur = Number(this.read(op.key) ?? Number.NEGATIVE_INFINITY);
        this.write(op.key, String(Math.max(cur, op.value)), op.ttlMs);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('counter store is closed');
  }

  private read(key: string): string | null {
    this.assertOpen();
    const s = this.data.get(key);
    if (!s) return null;
    if (s.expiresAt !== 0 && s.expiresAt <= this.now()) {
      this.data.delete(key);
      return null;
    }
    return s.value;
  }

  private write(key: string, value: string, ttlMs?: number): void {
    this.assertOpen();
    this.data.set(key, { value, expiresAt: ttlMs ? this.now() + ttlMs : 0 });
  }

  private incrSync(key: string, by: number, ttlMs?: number): number {
    const cur = this.read(key);
    const n = (cur === null ? 0 : Number(cur)) + by;
    if (!Number.isFinite(n)) throw new Error(`value at ${key} is not a number`);
    const prev = this.data.get(key);
    // Like INCRBY followed by PEXPIRE: the TTL is refreshed when given, kept otherwise.
    this.data.set(key, { value: String(n), expiresAt: ttlMs ? this.now() + ttlMs : (prev?.expiresAt ?? 0) });
    return n;
  }

  private sweepExpired(): void {
    const t = this.now();
    for (const [k, s] of this.data) if (s.expiresAt !== 0 && s.expiresAt <= t) this.data.delete(k);
  }
}
