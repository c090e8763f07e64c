/**
 * Static stability of a worker (real `createWorker`, embedded KV with its outage test hook): while
 * the store is unreachable the worker keeps serving what it last knew; when it returns the worker
 * watches again from its last revision (no re-snapshot), or re-snapshots only when that revision
 * was compacted. Changes made just before the outage (which the worker never saw) and during it
 * all land.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import type { EmbeddedKvStore } from '../../../src/stores/embedded/kv.ts';
import { until } from '../../support/poll.ts';
import { WorkerHarness } from './harness.ts';

/** Counts snapshots of the worker's circuits prefix (a resumed watch takes none). */
function countSnapshots(kv: EmbeddedKvStore, prefix: string): { n: number } {
  const counter = { n: 0 };
  const orig = kv.getPrefix.bind(kv);
  kv.getPrefix = async (p: string) => {
    if (p === prefix) counter.n++;
    return orig(p);
  };
  return counter;
}

describe('worker catch-up after a KV outage', () => {
  let h: WorkerHarness;
  before(async () => {
    h = await WorkerHarness.start({ mode: 'port' });
  });
  after(async () => {
    h.kv.setUnavailable(false);
    await h.close();
  });

  test('keeps serving during the outage; resumes from its last revision; missed and later changes land', async () => {
    const served = await h.addRoute();
    const doomed = await h.addRoute();
    const cookie = await h.login(served);
    const doomedCookie = await h.login(doomed);
    assert.equal((await h.request(served, { cookie })).status, 200);
    const snapshots = countSnapshots(h.kv, kvKeys.circuits(h.authority));

    // Just before the outage: a route created and one deleted. The outage starts in the same tick,
    // so the worker's watch never delivers either change.
    const created = h.makeSpec();
    const put = h.kv.put(kvKeys.circuit(h.authority, created.id), JSON.stringify(created));
    const del = h.kv.delete(kvKeys.circuit(h.authority, doomed.spec.id));
    h.kv.setUnavailable(true);
    await Promise.all([put, del]);
    const t0 = Date.now();

    // During the outage: what the worker knew keeps being served, the table is not cleared.
    await new Promise((r) => setTimeout(r, 300)); // let the worker notice the watch ending
    assert.equal((await h.request(served, { cookie })).status, 200);
    assert.equal(
      (await h.request(doomed, { cookie: doomedCookie })).status,
      200,
      'nothing is removed blindly',
    );
    assert.equal(h.worker.routeCount(), 2);

    // The outage lasts a while (the worker retries with capped backoff meanwhile).
    await until(() => Date.now() - t0 > 1500, 'outage time', { timeoutMs: 5000 });
    h.kv.setUnavailable(false);
    // A change made right after the store returned lands too.
    const later = h.makeSpec();
    await h.kv.put(kvKeys.circuit(h.authority, later.id), JSON.stringify(later));

    await until(async () => (await h.readiness(created.id))?.state === 'ready', 'missed route served', {
      timeoutMs: 15_000,
    });
    await until(async () => (await h.readiness(later.id))?.state === 'ready', 'later route served', {
      timeoutMs: 15_000,
    });
    await until(async () => (await h.readiness(doomed.spec.id)) === undefined, 'missed delete applied', {
      timeoutMs: 15_000,
    });
    assert.equal((await h.request(h.routeOf(created))).status, 401, 'the new route answers (no cookie yet)');
    const gone = await h.request(doomed, { cookie: doomedCookie }).catch((err: Error) => err);
    assert.ok(gone instanceof Error || gone.status >= 400, 'the deleted route no longer serves');
    assert.equal((await h.request(served, { cookie })).status, 200);
    assert.equal(h.worker.routeCount(), 3);
    assert.equal(snapshots.n, 0, 'the worker resumed its watch from its last revision, without a snapshot');
  });

  test('a compacted revision makes it re-snapshot and diff instead', async () => {
    const keep = await h.addRoute();
    const drop = await h.addRoute();
    const snapshots = countSnapshots(h.kv, kvKeys.circuits(h.authority));
    h.kv.setUnavailable(true);
    await new Promise((r) => setTimeout(r, 200));
    // While it is down, etcd compacts past the worker's revision (here: changes + compaction).
    h.kv.setUnavailable(false);
    const added = h.makeSpec();
    await h.kv.put(kvKeys.circuit(h.authority, added.id), JSON.stringify(added));
    await h.kv.delete(kvKeys.circuit(h.authority, drop.spec.id));
    h.kv.compact(h.kv.currentRevision);
    h.kv.setUnavailable(true);
    h.kv.setUnavailable(false);
    await until(async () => (await h.readiness(added.id))?.state === 'ready', 'added route served', {
      timeoutMs: 15_000,
    });
    await until(async () => (await h.readiness(drop.spec.id)) === undefined, 'dropped route removed', {
      timeoutMs: 15_000,
    });
    assert.ok((await h.readiness(keep.spec.id))?.state === 'ready');
    assert.ok(snapshots.n >= 1, 're-snapshotted after compaction');
  });
});
