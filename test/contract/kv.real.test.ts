import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdKvStore } from '../../src/stores/etcd/kv.ts';
import type { KvEvent, KvWatchError } from '../../src/stores/types.ts';
import { useRealServer } from '../support/infra/real.ts';
import { startEtcd } from '../support/infra/servers.ts';
import { until } from '../support/poll.ts';
import { kvContract } from './suites/kv.ts';
import { settlesWithin, uniquePrefix } from './suites/util.ts';

const etcd = await useRealServer('etcd', () => startEtcd());

if (etcd) {
  const open = async () => new EtcdKvStore({ endpoints: etcd.endpoints });
  // The "etcd side": revokes and compacts like an operator or the server itself would.
  let side: EtcdKvStore;
  before(() => {
    side = new EtcdKvStore({ endpoints: etcd.endpoints });
  });
  after(() => side?.close());

  kvContract('etcd', open, {
    async expireLease(store, leaseId) {
      // What TTL expiry does on the server: the lease and its keys go. The holder learns it from
      // its next keep-alive answer (TTL 0); ask for that answer now rather than in ttl/3.
      // (Expiry by real time is tested below.)
      await side.client.leaseClient.leaseRevoke({ ID: leaseId });
      store.keepAliveNow(leaseId);
    },
    async compact(_store, revision) {
      await side.client.kv.compact({ revision, physical: true });
    },
  });

  describe('etcd adapter', () => {
    describe('leases in real time', { concurrency: true }, () => {
      it('grants whole-second TTLs (at least what was asked) and expires a lease in real time when keep-alives stop', async () => {
        const kv = await open();
        const observer = await open();
        const p = uniquePrefix('etcd-lease');
        try {
          const lease = await kv.grantLease(1_000);
          assert.ok(lease.ttlMs >= 1_000 && lease.ttlMs % 1_000 === 0, `ttl ${lease.ttlMs}`);
          await kv.put(`${p}a`, '1', { lease: lease.id });
          const events: KvEvent[] = [];
          const { revision } = await observer.getPrefix(p);
          const w = await observer.watch(p, revision, {
            onEvents: (e) => events.push(...e),
            onError: () => {},
          });
          try {
            // Held for longer than its TTL while keep-alives flow (wall time is the property here).
            await sleep(lease.ttlMs + 500);
            assert.equal((await observer.get(`${p}a`))?.value, '1');
            assert.equal(await settlesWithin(lease.lost, 10), 'pending');

            const t0 = Date.now();
            kv.suspendKeepAlive(lease.id);
            assert.equal(
              await settlesWithin(lease.lost, lease.ttlMs + 2_000),
              'resolved',
              'lost did not resolve',
            );
            await until(() => events.length >= 1, 'the delete of the leased key', {
              timeoutMs: lease.ttlMs + 3_000,
            });
            assert.deepEqual(
              events.map((e) => [e.type, e.key]),
              [['delete', `${p}a`]],
            );
            assert.ok(Date.now() - t0 >= lease.ttlMs - 1_000, 'expired before its TTL');
            await assert.rejects(kv.put(`${p}b`, '1', { lease: lease.id }));
          } finally {
            await w.close();
          }
        } finally {
          await kv.close();
          await observer.close();
        }
      });

      it('closing a store stops keep-alives without revoking: its leased keys go when the TTL runs out', async () => {
        const holder = await open();
        const observer = await open();
        const p = uniquePrefix('etcd-close');
        try {
          const lease = await holder.grantLease(1_000);
          await holder.put(`${p}a`, '1', { lease: lease.id });
          await holder.close();
          assert.equal(await settlesWithin(lease.lost, 100), 'resolved', 'lost not resolved on close');
          assert.equal((await observer.get(`${p}a`))?.value, '1', 'close revoked the lease');
          await until(
            async () => (await observer.get(`${p}a`)) === undefined,
            'the leased key to expire with its TTL',
            { timeoutMs: lease.ttlMs + 3_000, intervalMs: 100 },
          );
        } finally {
          await holder.close();
          await observer.close();
        }
      });
    });

    it('a watch survives an etcd restart: no lost and no duplicated events', async () => {
      const kv = new EtcdKvStore({ endpoints: etcd.endpoints, maxReconnectDelayMs: 500 });
      const p = uniquePrefix('etcd-restart');
      const events: KvEvent[] = [];
      const errors: KvWatchError[] = [];
      try {
        const { revision } = await kv.getPrefix(p);
        const w = await kv.watch(p, revision, {
          onEvents: (e) => events.push(...e),
          onError: (e) => errors.push(e),
        });
        const expected: [string, number][] = [];
        for (let i = 0; i < 3; i++) expected.push([`${p}before/${i}`, await kv.put(`${p}before/${i}`, 'x')]);
        await until(
          () => {
            assert.ok(events.length >= 3, `${events.length} events`);
            return true;
          },
          '3 events',
          { timeoutMs: 5_000 },
        );

        await etcd.stop();
        const t0 = Date.now();
        await assert.rejects(kv.get(`${p}x`));
        assert.ok(Date.now() - t0 < 6_000, 'a call to a stopped etcd hung');
        await sleep(2_000); // etcd stays down a while: the scenario, not a wait for an event
        await etcd.start();

        // Writes right after the restart, from a fresh client, most likely before the watch has
        // re-attached: the watch must resume from its last revision, not from "now".
        const writer = new EtcdKvStore({ endpoints: etcd.endpoints });
        try {
          for (let i = 0; i < 3; i++)
            expected.push([`${p}after/${i}`, await writer.put(`${p}after/${i}`, 'y')]);
          const d = await writer.txn([], [{ type: 'deletePrefix', prefix: `${p}before/` }]);
          for (let i = 0; i < 3; i++) expected.push([`${p}before/${i}`, d.revision]);
        } finally {
          await writer.close();
        }
        await until(
          async () =>
            await kv.put(`${p}last`, 'z').then(
              () => true,
              () => false,
            ),
          'the adapter to reconnect',
          { timeoutMs: 10_000, intervalMs: 100 },
        );
        expected.push([`${p}last`, (await kv.get(`${p}last`))!.modRevision]);
        await until(
          () => {
            assert.ok(
              events.length >= expected.length,
              `${events.length}/${expected.length} events: ${JSON.stringify(events)}`,
            );
            return true;
          },
          'every event',
          { timeoutMs: 10_000 },
        );
        // A last put, and its event: a duplicate of anything earlier would have come before it.
        const marker = await kv.put(`${p}marker`, 'm');
        expected.push([`${p}marker`, marker]);
        await until(() => events.some((e) => e.revision === marker), 'the marker event', {
          timeoutMs: 10_000,
        });
        const got = events.map((e) => [e.key, e.revision]);
        for (let i = 1; i < events.length; i++)
          assert.ok(events[i]!.revision >= events[i - 1]!.revision, `out of order at ${i}`);
        assert.deepEqual(
          got.map(String).sort(),
          expected.map(String).sort(),
          'lost or duplicated events across the restart',
        );
        assert.deepEqual(errors, []);
        await w.close();
      } finally {
        await kv.close();
      }
    });

    it("a watch from a revision removed by etcd's compaction API ends with 'compacted' at that revision", async () => {
      const kv = await open();
      const p = uniquePrefix('etcd-compact');
      try {
        const r1 = await kv.put(`${p}a`, '1');
        const r2 = await kv.put(`${p}a`, '2');
        await side.client.kv.compact({ revision: r2, physical: true });
        const errs: KvWatchError[] = [];
        await kv.watch(p, r1 - 1, { onEvents: () => {}, onError: (e) => errs.push(e) });
        await until(() => errs.length > 0, 'a watch error', { timeoutMs: 5_000 });
        assert.equal(errs[0]!.reason, 'compacted');
        assert.equal(errs[0]!.compactRevision, r2);
      } finally {
        await kv.close();
      }
    });
  });
}
