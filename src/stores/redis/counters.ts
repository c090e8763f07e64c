/**
 * The production Counters adapter: Redis through `ioredis`.
 *
 * - `incr` and `max` are small Lua scripts (ioredis sends EVALSHA and falls back to EVAL after a
 *   restart emptied the script cache), so "INCRBY then PEXPIRE" and "keep the larger value" are
 *   atomic. `incr` takes integers (Redis INCRBY).
 * - `batch` is one pipeline: one round trip; ops run in order; the first failing op's error is
 *   thrown after the others ran (like the embedded store, which has no rollback either).
 * - `setIfAbsent` is `SET key value PX ttl NX`; `keys(prefix)` is SCAN with the prefix's glob
 *   characters escaped.
 * - A lost connection never crashes the process: 'error' events are consumed, ioredis reconnects
 *   by itself (backoff up to 2 s), and commands issued while disconnected fail at once instead
 *   of queueing (no offline queue; an in-flight INCR is not replayed after a reconnect, so it can
 *   not count twice). Callers see the rejection and retry (the store guard maps it to 503).
 */
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import type { CounterOp, CounterStore } from '../types.ts';

export interface RedisConfig {
  /** `redis://[:password@]host:port[/db]` or `rediss://…` for TLS. */
  url: string;
  /** Overrides the URL's password (e.g. from a secret file or env); never logged. */
  password?: string;
  username?: string;
  /** TLS options (a `rediss://` URL turns TLS on with defaults). */
  tls?: ConnectionOptions;
  /** A command not answered within this fails (default 5 000 ms). */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Called with connection errors (already handled; for logging). Messages carry no password. */
  onError?: (err: Error) => void;
}

const INCR_LUA = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`;

// Keeps the larger of the stored and the given number, as a string (no float reformatting);
// like SET, it replaces any TTL with the given one (or none).
const MAX_LUA = `
local cur = redis.call('GET', KEYS[1])
local out = ARGV[1]
local c = tonumber(cur or '')
if c ~= nil and c >= tonumber(ARGV[1]) then out = cur end
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], out, 'PX', ARGV[2]) else redis.call('SET', KEYS[1], out) end
return out`;

interface Scripted {
  apIncr(key: string, by: string, ttl: string): Promise<number>;
  apMax(key: string, value: string, ttl: string): Promise<string>;
}

/** Escapes Redis glob characters so that a prefix matches literally. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

const ttlArg = (ttlMs?: number) => (ttlMs && ttlMs > 0 ? String(Math.ceil(ttlMs)) : '');

export class RedisCounterStore implements CounterStore {
  readonly redis: Redis;
  private closed = false;

  constructor(config: RedisConfig) {
    const tlsFromUrl = config.url.startsWith('rediss://');
    const options: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.commandTimeoutMs ?? 5_000,
      connectTimeout: config.connectTimeoutMs ?? 5_000,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
      ...(config.password !== undefined ? { password: config.password } : {}),
      ...(config.username !== undefined ? { username: config.username } : {}),
      ...(config.tls || tlsFromUrl ? { tls: config.tls ?? {} } : {}),
    };
    this.redis = new Redis(config.url, options);
    this.redis.on('error', (err: Error) => config.onError?.(err));
    this.redis.defineCommand('apIncr', { numberOfKeys: 1, lua: INCR_LUA });
    this.redis.defineCommand('apMax', { numberOfKeys: 1, lua: MAX_LUA });
  }

  /** Connects (the first connection must succeed; later ones are retried forever). */
  async connect(): Promise<this> {
    // ioredis' connect() keeps waiting through its reconnect attempts; fail on the first error.
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        this.redis.off('error', done);
        this.redis.off('ready', ready);
        if (err) reject(err);
        else resolve();
      };
      const ready = () => done();
      this.redis.once('error', done);
      this.redis.once('ready', ready);
      this.redis.connect().catch(done);
    });
    return this;
  }

  private get cmd(): Redis & Scripted {
    if (this.closed) throw new Error('counter store is closed');
    return this.redis as Redis & Scripted;
  }

  async incr(key: string, by = 1, ttlMs?: number): Promise<number> {
    return Number(await this.cmd.apIncr(key, String(by), ttlArg(ttlMs)));
  }

  async get(key: string): Promise<string | null> {
    return this.cmd.get(key);
  }

  async mget(keys: string[]): Promise<(string | null)[]> {
    if (keys.length === 0) {
      void this.cmd;
      return [];
    }
    return this.cmd.mget(...keys);
  }

  async keys(prefix: string): Promise<string[]> {
    const r = this.cmd;
    const pattern = `${escapeGlob(prefix)}*`;
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      for (const k of batch) found.add(k);
      cursor = next;
    } while (cursor !== '0');
    return [...found];
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    const t = ttlArg(ttlMs);
    if (t) await this.cmd.set(key, value, 'PX', t);
    else await this.cmd.set(key, value);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const res = await this.cmd.set(key, value, 'PX', ttlArg(ttlMs) || '1', 'NX');
    return res === 'OK';
  }

  async delete(key: string): Promise<void> {
    await this.cmd.del(key);
  }

  async batch(ops: CounterOp[]): Promise<void> {
    const r = this.cmd;
    if (ops.length === 0) return;
    const p = r.pipeline() as ReturnType<Redis['pipeline']> & {
      apIncr(key: string, by: string, ttl: string): unknown;
      apMax(key: string, value: string, ttl: string): unknown;
    };
    for (const o of ops) {
      if (o.type === 'incr') p.apIncr(o.key, String(o.by), ttlArg(o.ttlMs));
      else if (o.type === 'max') p.apMax(o.key, String(o.value), ttlArg(o.ttlMs));
      else if (ttlArg(o.ttlMs)) p.set(o.key, o.value, 'PX', ttlArg(o.ttlMs));
      else p.set(o.key, o.value);
    }
    const results = await p.exec();
    if (!results) throw new Error('redis pipeline was discarded');
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.redis.status === 'ready') await this.redis.quit();
    } catch {
      // not connected: nothing to say goodbye to
    } finally {
      this.redis.disconnect();
    }
  }
}

/** Creates a store and waits for its first connection. */
export async function openRedis(config: RedisConfig): Promise<RedisCounterStore> {
  const store = new RedisCounterStore(config);
  try {
    return await store.connect();
  } catch (err) {
    await store.close();
    throw err;
  }
}
