/**
 * The Counters role's contract (Redis semantics: INCRBY, SET PX, SET NX PX, PEXPIRE). Every
 * adapter — the embedded in-process store and the Redis adapter — must pass it. Each test uses
 * its own random key prefix so suites can share a server. TTL cases use short real TTLs and poll
 * (bounded), so no adapter internals are needed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CounterStore } from '../../../src/stores/types.ts';
import { until } from '../../support/poll.ts';
import { sleep, uniquePrefix } from './util.ts';

/** Short TTL used by expiry cases; expiry is polled for up to EXPIRY_WAIT_MS. */
const TTL_MS = 200;
const EXPIRY_WAIT_MS = 3_000;

export function countersContract<S extends CounterStore>(name: string, open: () => Promise<S>): void {
  async function withStore(fn: (c: S, p: string) => Promise<void>): Promise<void> {
    const c = await open();
    try {
      await fn(c, uniquePrefix('counters'));
    } finally {
      await c.close();
    }
  }

  async function expectExpires(c: S, key: string): Promise<void> {
    await until(async () => (await c.get(key)) === null, `${key} to expire`, {
      timeoutMs: EXPIRY_WAIT_MS,
      intervalMs: 20,
    });
  }

  describe(`CounterStore contract: ${name}`, () => {
    describe('incr', () => {
      it('starts a missing key at 0 and adds `by` (default 1, negative allowed)', () =>
        withStore(async (c, p) => {
          assert.equal(await c.incr(`${p}n`), 1);
          assert.equal(await c.incr(`${p}n`), 2);
          assert.equal(await c.incr(`${p}n`, 5), 7);
          assert.equal(await c.incr(`${p}n`, -10), -3);
          assert.equal(await c.get(`${p}n`), '-3');
          assert.equal(await c.incr(`${p}m`, 42), 42);
        }));

      it('counts every one of many concurrent increments', () =>
        withStore(async (c, p) => {
          const results = await Promise.all(Array.from({ length: 50 }, () => c.incr(`${p}n`)));
          assert.deepEqual(
            [...results].sort((a, b) => a - b),
            Array.from({ length: 50 }, (_, i) => i + 1),
          );
          assert.equal(await c.get(`${p}n`), '50');
        }));

      it('refuses to increment a value that is not a number', () =>
        withStore(async (c, p) => {
          await c.set(`${p}s`, 'abc');
          await assert.rejects(c.incr(`${p}s`));
          assert.equal(await c.get(`${p}s`), 'abc');
        }));

      it('with a TTL, the key expires', () =>
        withStore(async (c, p) => {
          assert.equal(await c.incr(`${p}t`, 1, TTL_MS), 1);
          assert.equal(await c.get(`${p}t`), '1');
          await expectExpires(c, `${p}t`);
          // It counts from zero again afterwards.
          assert.equal(await c.incr(`${p}t`, 1, TTL_MS), 1);
        }));

      it('without a TTL, the key does not expire', () =>
        withStore(async (c, p) => {
          await c.incr(`${p}n`);
          // A key written with a TTL at the same time has expired: the store had its chance.
          await c.incr(`${p}control`, 1, TTL_MS);
          await expectExpires(c, `${p}control`);
          assert.equal(await c.get(`${p}n`), '1');
        }));

      it('with a TTL again, refreshes the TTL', () =>
        withStore(async (c, p) => {
          const ttl = 1_000;
          await c.incr(`${p}t`, 1, ttl);
          await c.incr(`${p}control`, 1, ttl);
          await sleep(600); // the refresh comes 600 ms into the TTL: the time is the scenario
          await c.incr(`${p}t`, 1, ttl);
          // The control key, written with the first incr and never refreshed, is gone: the first
          // TTL is over, but not the refreshed one (600 ms later).
          await expectExpires(c, `${p}control`);
          assert.equal(await c.get(`${p}t`), '2', 'TTL was not refreshed');
          await expectExpires(c, `${p}t`);
        }));

      it('without a TTL, keeps an existing TTL', () =>
        withStore(async (c, p) => {
          await c.incr(`${p}t`, 1, TTL_MS);
          assert.equal(await c.incr(`${p}t`), 2);
          await expectExpires(c, `${p}t`);
        }));
    });

    describe('get / mget / set / delete', () => {
      it('reads missing keys as null', () =>
        withStore(async (c, p) => {
          assert.equal(await c.get(`${p}missing`), null);
          assert.deepEqual(await c.mget([`${p}a`, `${p}b`]), [null, null]);
        }));

      it('mget returns values in the order asked, null for the missing ones', () =>
        withStore(async (c, p) => {
          await c.set(`${p}a`, 'A');
          await c.incr(`${p}n`, 3);
          assert.deepEqual(await c.mget([`${p}n`, `${p}missing`, `${p}a`, `${p}a`]), ['3', null, 'A', 'A']);
          assert.deepEqual(await c.mget([]), []);
        }));

      it('set overwrites and stores strings verbatim', () =>
        withStore(async (c, p) => {
          await c.set(`${p}s`, 'one');
          await c.set(`${p}s`, 'two');
          assert.equal(await c.get(`${p}s`), 'two');
          const odd = 'héllo ✓ {"a":1} \n';
          await c.set(`${p}u`, odd);
          assert.equal(await c.get(`${p}u`), odd);
        }));

      it('set with a TTL expires; set without one clears an earlier TTL', () =>
        withStore(async (c, p) => {
          await c.set(`${p}t`, 'v', TTL_MS);
          assert.equal(await c.get(`${p}t`), 'v');
          await expectExpires(c, `${p}t`);
          assert.deepEqual(await c.mget([`${p}t`]), [null]);

          await c.set(`${p}p`, 'v', TTL_MS);
          await c.set(`${p}control`, 'v', TTL_MS);
          await c.set(`${p}p`, 'w');
          await expectExpires(c, `${p}control`); // the old TTL would be over by now
          assert.equal(await c.get(`${p}p`), 'w', 'plain set kept the old TTL');
        }));

      it('delete removes a key; deleting a missing key is fine', () =>
        withStore(async (c, p) => {
          await c.set(`${p}a`, '1');
          await c.set(`${p}b`, '2');
          await c.delete(`${p}a`);
          await c.delete(`${p}never`);
          assert.equal(await c.get(`${p}a`), null);
          assert.equal(await c.get(`${p}b`), '2');
          assert.equal(await c.incr(`${p}a`), 1, 'a deleted counter restarts at 0');
        }));
    });

    describe('setIfAbsent', () => {
      it('is true once, then false, and does not overwrite', () =>
        withStore(async (c, p) => {
          assert.equal(await c.setIfAbsent(`${p}mark`, 'first', 10_000), true);
          assert.equal(await c.setIfAbsent(`${p}mark`, 'second', 10_000), false);
          assert.equal(await c.get(`${p}mark`), 'first');
          await c.set(`${p}existing`, 'x');
          assert.equal(await c.setIfAbsent(`${p}existing`, 'y', 10_000), false);
          assert.equal(await c.get(`${p}existing`), 'x');
        }));

      it('from 20 concurrent callers: exactly one true', () =>
        withStore(async (c, p) => {
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) => c.setIfAbsent(`${p}mark`, `v${i}`, 10_000)),
          );
          const winners = results.flatMap((r, i) => (r ? [i] : []));
          assert.equal(winners.length, 1, `winners: ${winners}`);
          assert.equal(await c.get(`${p}mark`), `v${winners[0]}`);
        }));

      it('expires after its TTL, then can be set again', () =>
        withStore(async (c, p) => {
          assert.equal(await c.setIfAbsent(`${p}mark`, '1', TTL_MS), true);
          await expectExpires(c, `${p}mark`);
          assert.equal(await c.setIfAbsent(`${p}mark`, '2', 10_000), true);
          assert.equal(await c.get(`${p}mark`), '2');
        }));
    });

    describe('batch', () => {
      it('applies incr, max and set in one call', () =>
        withStore(async (c, p) => {
          await c.incr(`${p}n`, 10);
          await c.set(`${p}hi`, '500');
          await c.set(`${p}lo`, '100');
          await c.batch([
            { type: 'incr', key: `${p}n`, by: 5 },
            { type: 'incr', key: `${p}new`, by: 2 },
            { type: 'max', key: `${p}hi`, value: 300 },
            { type: 'max', key: `${p}lo`, value: 300 },
            { type: 'max', key: `${p}missing`, value: 1_700_000_000_123 },
            { type: 'set', key: `${p}s`, value: 'text' },
          ]);
          assert.deepEqual(await c.mget([`${p}n`, `${p}new`, `${p}hi`, `${p}lo`, `${p}missing`, `${p}s`]), [
            '15',
            '2',
            '500',
            '300',
            '1700000000123',
            'text',
          ]);
        }));

      it('applies ops on the same key in order', () =>
        withStore(async (c, p) => {
          await c.batch([
            { type: 'incr', key: `${p}n`, by: 1 },
            { type: 'incr', key: `${p}n`, by: 1 },
            { type: 'max', key: `${p}m`, value: 5 },
            { type: 'max', key: `${p}m`, value: 9 },
            { type: 'max', key: `${p}m`, value: 7 },
            { type: 'set', key: `${p}s`, value: 'a' },
            { type: 'set', key: `${p}s`, value: 'b' },
          ]);
          assert.deepEqual(await c.mget([`${p}n`, `${p}m`, `${p}s`]), ['2', '9', 'b']);
        }));

      it('honours per-op TTLs', () =>
        withStore(async (c, p) => {
          await c.batch([
            { type: 'incr', key: `${p}i`, by: 1, ttlMs: TTL_MS },
            { type: 'max', key: `${p}m`, value: 3, ttlMs: TTL_MS },
            { type: 'set', key: `${p}s`, value: 'x', ttlMs: TTL_MS },
            { type: 'set', key: `${p}keep`, value: 'y' },
          ]);
          assert.deepEqual(await c.mget([`${p}i`, `${p}m`, `${p}s`]), ['1', '3', 'x']);
          for (const k of ['i', 'm', 's']) await expectExpires(c, `${p}${k}`);
          assert.equal(await c.get(`${p}keep`), 'y');
        }));

      it('accepts an empty batch', () =>
        withStore(async (c) => {
          await c.batch([]);
        }));
    });

    describe('keys', () => {
      it('lists exactly the live keys under the prefix', () =>
        withStore(async (c, p) => {
          await c.set(`${p}r/a`, '1');
          await c.incr(`${p}r/b`);
          await c.batch([{ type: 'max', key: `${p}r/c/d`, value: 1 }]);
          await c.set(`${p}r/short`, '1', TTL_MS);
          await c.set(`${p}rx`, '1');
          await c.set(`${p}other/a`, '1');
          await c.set(`${p}r/deleted`, '1');
          await c.delete(`${p}r/deleted`);
          assert.deepEqual((await c.keys(`${p}r/`)).sort(), [
            `${p}r/a`,
            `${p}r/b`,
            `${p}r/c/d`,
            `${p}r/short`,
          ]);
          await expectExpires(c, `${p}r/short`);
          assert.deepEqual((await c.keys(`${p}r/`)).sort(), [`${p}r/a`, `${p}r/b`, `${p}r/c/d`]);
          assert.deepEqual(await c.keys(`${p}none/`), []);
        }));

      it('treats glob characters in the prefix literally', () =>
        withStore(async (c, p) => {
          await c.set(`${p}a*b/1`, '1');
          await c.set(`${p}a?b/2`, '1');
          await c.set(`${p}axb/3`, '1');
          await c.set(`${p}[a]/4`, '1');
          await c.set(`${p}a/5`, '1');
          assert.deepEqual(await c.keys(`${p}a*b/`), [`${p}a*b/1`]);
          assert.deepEqual(await c.keys(`${p}a?b/`), [`${p}a?b/2`]);
          assert.deepEqual(await c.keys(`${p}[a]/`), [`${p}[a]/4`]);
        }));
    });
  });
}
