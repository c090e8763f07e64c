import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guardStores } from '../../src/manager/store-guard.ts';
import { escapeGlob, openRedis } from '../../src/stores/redis/counters.ts';
import type { KvStore, SqlDatabase } from '../../src/stores/types.ts';
import { useRealServer } from '../support/infra/real.ts';
import { startRedis } from '../support/infra/servers.ts';
import { until } from '../support/poll.ts';
import { countersContract } from './suites/counters.ts';
import { uniquePrefix } from './suites/util.ts';

const redis = await useRealServer('Redis', () => startRedis());

if (redis) {
  countersContract('Redis', () => openRedis({ url: redis.url }));

  describe('Redis adapter', () => {
    it('escapes glob characters', () => {
      assert.equal(escapeGlob('a*b?c[d]e\\f'), 'a\\*b\\?c\\[d\\]e\\\\f');
    });

    it('fails operations while Redis is down (no crash), and recovers by itself after a restart', async () => {
      const errors: Error[] = [];
      const c = await openRedis({ url: redis.url, onError: (e) => errors.push(e), commandTimeoutMs: 1000 });
      const guarded = guardStores({ sql: {} as SqlDatabase, kv: {} as KvStore, counters: c }).counters;
      const p = uniquePrefix('redis-restart');
      try {
        assert.equal(await c.incr(`${p}n`), 1);
        await c.set(`${p}keep`, 'v');

        await redis.stop(); // graceful: Redis saves, the restart loads it
        const t0 = Date.now();
        await assert.rejects(c.incr(`${p}n`));
        await assert.rejects(c.batch([{ type: 'max', key: `${p}m`, value: 1 }]));
        await assert.rejects(guarded.get(`${p}keep`), (err: any) => err.code === 'AP_ERR_STORE_UNAVAILABLE');
        assert.ok(Date.now() - t0 < 3000, 'failing calls hung');

        await redis.start();
        await until(
          async () => {
            assert.ok(
              (await c.get(`${p}keep`).catch(() => null)) === 'v',
              `errors: ${errors.map((e) => e.message).join('; ')}`,
            );
            return true;
          },
          'the client to reconnect',
          { timeoutMs: 10_000, intervalMs: 50 },
        );
        // Scripts work again after the restart emptied the script cache (EVALSHA falls back).
        assert.equal(await c.incr(`${p}n`), 2);
        await c.batch([{ type: 'max', key: `${p}m`, value: 7 }]);
        assert.equal(await c.get(`${p}m`), '7');
      } finally {
        await c.close();
      }
    });

    it('survives a crash (SIGKILL) of Redis', async () => {
      const c = await openRedis({ url: redis.url, commandTimeoutMs: 1000 });
      const p = uniquePrefix('redis-kill');
      try {
        await c.set(`${p}a`, '1');
        await redis.kill();
        await assert.rejects(c.get(`${p}a`));
        await redis.start();
        await until(
          async () => (await c.setIfAbsent(`${p}mark`, 'x', 10_000).catch(() => null)) === true,
          'the client to reconnect after a crash',
          { timeoutMs: 10_000, intervalMs: 50 },
        );
      } finally {
        await c.close();
      }
    });
  });
}
