/**
 * The KV-sync kit (`src/stores/kv-sync.ts`) on the embedded KV store and its outage hook: a prefix
 * sync that resumes from its last revision, a registration that outlives its lease, and a
 * latest-wins publisher that never writes a put after the delete that superseded it.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import pino from 'pino';
import { EmbeddedKvStore } from '../../../src/stores/embedded/kv.ts';
import { LatestWinsPublisher, LeasedRegistration, PrefixSync } from '../../../src/stores/kv-sync.ts';
import type { KvEntry, KvEvent } from '../../../src/stores/types.ts';
import { until } from '../../support/poll.ts';

const logger = pino({ level: 'silent' });
let kv: EmbeddedKvStore;

beforeEach(() => {
  kv = new EmbeddedKvStore();
});
afterEach(async () => {
  kv.setUnavailable(false);
  await kv.close();
});

/** A PrefixSync that records what it was handed. */
function follow(prefix: string) {
  const seen = { snapshots: [] as KvEntry[][], events: [] as KvEvent[] };
  const sync = new PrefixSync(
    kv,
    prefix,
    { onSnapshot: (e) => void seen.snapshots.push(e), onEvents: (e) => void seen.events.push(...e) },
    logger,
  );
  return { sync, seen };
}

describe('PrefixSync', () => {
  test('resumes from its last revision after an outage: missed changes arrive as events, no new snapshot', async () => {
    await kv.put('/p/a', '1');
    const { sync, seen } = follow('/p/');
    await sync.start();
    assert.equal(seen.snapshots.length, 1);
    assert.deepEqual(
      seen.snapshots[0]!.map((e) => e.key),
      ['/p/a'],
    );
    await kv.put('/p/b', '2');
    await until(() => seen.events.length === 1, 'first event', { timeoutMs: 5000 });

    kv.setUnavailable(true);
    await until(() => !sync.watching, 'the watch noticed the outage', { timeoutMs: 5000 });
    const failuresAtStart = sync.failures;
    await until(() => sync.failures >= failuresAtStart + 3, 'several failed attempts to resume', {
      timeoutMs: 5000,
    });
    kv.setUnavailable(false);
    // Written while nobody watched yet: must still arrive, in order, exactly once.
    await kv.put('/p/c', '3');
    await kv.delete('/p/a');
    await until(() => seen.events.length === 3, 'missed changes delivered', { timeoutMs: 5000 });
    assert.deepEqual(
      seen.events.map((e) => `${e.type} ${e.key}`),
      ['put /p/b', 'put /p/c', 'delete /p/a'],
    );
    assert.equal(seen.snapshots.length, 1, 'resumed, not re-snapshotted');
    assert.equal(sync.watching, true);
    await sync.close();
  });

  test('a compacted revision makes it take a fresh snapshot', async () => {
    const { sync, seen } = follow('/p/');
    await sync.start();
    // Watches cannot be opened for a while, but writes go on (one etcd member lagging, say).
    let blocked = true;
    const watch = kv.watch.bind(kv);
    kv.watch = async (...args: Parameters<typeof kv.watch>) => {
      if (blocked) throw new Error('watch refused');
      return watch(...args);
    };
    kv.setUnavailable(true);
    await until(() => !sync.watching, 'the watch ended', { timeoutMs: 5000 });
    kv.setUnavailable(false);
    await kv.put('/p/x', '1');
    const rev = await kv.put('/p/y', '2');
    kv.compact(rev);
    blocked = false;
    await until(() => seen.snapshots.length === 2 && sync.watching, 'fresh snapshot taken', {
      timeoutMs: 5000,
    });
    assert.deepEqual(
      seen.snapshots[1]!.map((e) => e.key),
      ['/p/x', '/p/y'],
    );
    assert.equal(seen.events.length, 0, 'nothing delivered twice');
    await sync.close();
  });

  test('startInBackground keeps trying until the store answers, then snapshots and watches', async () => {
    await kv.put('/p/a', '1');
    kv.setUnavailable(true);
    const { sync, seen } = follow('/p/');
    sync.startInBackground();
    await until(() => sync.failures >= 2, 'failed attempts while the store is away', { timeoutMs: 5000 });
    assert.equal(seen.snapshots.length, 0);
    kv.setUnavailable(false);
    await until(() => sync.watching, 'watching once the store answers', { timeoutMs: 5000 });
    assert.deepEqual(
      seen.snapshots[0]?.map((e) => e.key),
      ['/p/a'],
    );
    await sync.close();
  });
});

describe('LeasedRegistration', () => {
  test('a lost lease is replaced and the key put again; onRegistered runs each time', async () => {
    let registered = 0;
    const reg = new LeasedRegistration({
      kv,
      key: '/reg/me',
      value: (ttl) => JSON.stringify({ ttl }),
      ttlMs: 2000,
      logger,
      onRegistered: () => registered++,
    });
    await reg.start();
    assert.equal(registered, 1);
    const first = reg.lease!;
    assert.equal((await kv.get('/reg/me'))?.lease, first.id);
    await first.revoke(); // the store dropped it (as an expiry would)
    await until(() => registered === 2, 're-registered', { timeoutMs: 5000 });
    const second = reg.lease!;
    assert.notEqual(second.id, first.id);
    assert.equal((await kv.get('/reg/me'))?.lease, second.id);
    await reg.close();
    assert.equal(await kv.get('/reg/me'), undefined, 'closing revokes the lease and its key');
  });
});

describe('LatestWinsPublisher', () => {
  test('latest wins: a put superseded by a delete while the store is away is never written', async () => {
    const pub = new LatestWinsPublisher({ kv, logger, what: 'mark' });
    pub.set('/m/a', 'one');
    await pub.settled('/m/a');
    assert.equal((await kv.get('/m/a'))?.value, 'one');
    kv.setUnavailable(true);
    pub.set('/m/a', 'two');
    pub.set('/m/b', 'b');
    pub.set('/m/a', null);
    assert.ok(pub.pending >= 2);
    const settled = pub.settled('/m/a');
    kv.setUnavailable(false);
    await settled;
    await pub.settled('/m/b');
    assert.equal(await kv.get('/m/a'), undefined);
    assert.equal((await kv.get('/m/b'))?.value, 'b');
    assert.equal(pub.pending, 0);
    assert.deepEqual(pub.keys(), ['/m/b']);
    pub.close();
  });

  test('writes under the lease only while there is one; republishAll rewrites after a new lease', async () => {
    let lease = await kv.grantLease(2000);
    let current: typeof lease | null = lease;
    const pub = new LatestWinsPublisher({ kv, logger, what: 'mark', lease: () => current });
    pub.set('/m/a', 'x');
    await pub.settled('/m/a');
    assert.equal((await kv.get('/m/a'))?.lease, lease.id);
    current = null;
    await lease.revoke(); // the key goes with its lease
    assert.equal(await kv.get('/m/a'), undefined);
    lease = await kv.grantLease(2000);
    current = lease;
    pub.republishAll();
    await pub.settled('/m/a');
    assert.equal((await kv.get('/m/a'))?.lease, lease.id);
    pub.close();
  });

  test('settled with failFast rejects at the first failed write; the write still lands when the store returns', async () => {
    const pub = new LatestWinsPublisher({ kv, logger, what: 'mark' });
    kv.setUnavailable(true);
    pub.set('/m/a', 'x');
    const patient = pub.settled('/m/a');
    await assert.rejects(pub.settled('/m/a', { failFast: true }), /unavailable/i);
    assert.equal(pub.pending, 1, 'still pending after the failure was reported');
    kv.setUnavailable(false);
    assert.equal(await patient, true);
    assert.equal((await kv.get('/m/a'))?.value, 'x');
    assert.equal(await pub.settled('/m/a', { failFast: true }), true, 'nothing pending: settled at once');
    pub.close();
  });

  test('settled says false for a key that was still pending when the publisher closed', async () => {
    const pub = new LatestWinsPublisher({ kv, logger, what: 'mark' });
    pub.set('/m/done', 'y');
    await pub.settled('/m/done');
    kv.setUnavailable(true);
    pub.set('/m/a', 'x');
    const waiting = pub.settled('/m/a');
    pub.close();
    assert.equal(await waiting, false);
    assert.equal(await pub.settled('/m/a'), false);
    assert.equal(await pub.settled('/m/done'), true);
  });

  test('a value already written is written again only when forced (someone else changed the key)', async () => {
    const pub = new LatestWinsPublisher({ kv, logger, what: 'spec' });
    pub.set('/m/a', 'x');
    await pub.settled('/m/a');
    await kv.delete('/m/a'); // another writer
    pub.set('/m/a', 'x');
    await pub.settled('/m/a');
    assert.equal(await kv.get('/m/a'), undefined, 'unforced: known to be written already');
    pub.set('/m/a', 'x', { force: true });
    await pub.settled('/m/a');
    assert.equal((await kv.get('/m/a'))?.value, 'x');
    pub.close();
  });

  test('a mark set while the lease is being renewed waits for it without spinning', async () => {
    let current: Awaited<ReturnType<typeof kv.grantLease>> | null = null;
    let asked = 0;
    const pub = new LatestWinsPublisher({
      kv,
      logger,
      what: 'mark',
      lease: () => {
        // A loop that re-kicks itself without a lease asks millions of times and starves timers.
        if (++asked > 1000) throw new Error('the publisher spins while it has no lease');
        return current;
      },
    });
    pub.set('/m/a', 'x');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(asked < 10, `asked for the lease ${asked} times`);
    assert.equal(await kv.get('/m/a'), undefined);
    current = await kv.grantLease(2000);
    pub.republishAll();
    await pub.settled('/m/a');
    assert.equal((await kv.get('/m/a'))?.lease, current.id);
    pub.close();
  });

  test('onDeleted tells whether a delete removed a key; a put superseded before it was written removes none', async () => {
    const deletes: [string, boolean][] = [];
    const pub = new LatestWinsPublisher({
      kv,
      logger,
      what: 'desired',
      onDeleted: (key, removed) => deletes.push([key, removed]),
    });
    pub.set('/d/a', 'x');
    await pub.settled('/d/a');
    pub.set('/d/a', null);
    await pub.settled('/d/a');
    kv.setUnavailable(true);
    pub.set('/d/b', 'y');
    pub.set('/d/b', null);
    kv.setUnavailable(false);
    await pub.settled('/d/b');
    assert.deepEqual(deletes, [
      ['/d/a', true],
      ['/d/b', false],
    ]);
    assert.equal(await kv.get('/d/b'), undefined);
    pub.close();
  });

  test('forget drops a key without writing it', async () => {
    const pub = new LatestWinsPublisher({ kv, logger, what: 'mark' });
    kv.setUnavailable(true);
    pub.set('/m/a', 'x');
    pub.forget('/m/a');
    kv.setUnavailable(false);
    pub.set('/m/b', 'y');
    await pub.settled('/m/b');
    assert.equal(await kv.get('/m/a'), undefined);
    pub.close();
  });
});
