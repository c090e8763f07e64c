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
    const circuits = () => h.worker.status().circuits;
    const revisionBefore = circuits().revision;

    // During the outage: the worker noticed (its watch is down), and what it knew keeps being
    // served; the table is not cleared.
    await until(() => !circuits().watching, 'the worker to notice the watch ending', { timeoutMs: 5000 });
    const servesWhatItKnew = async () => {
      assert.equal((await h.request(served, { cookie })).status, 200);
      assert.equal(
        (await h.request(doomed, { cookie: doomedCookie })).status,
        200,
        'nothing is removed blindly',
      );
      assert.equal(h.worker.routeCount(), 2);
    };
    await servesWhatItKnew();

    // The outage lasts a while: the worker fails to resume its watch (retrying with capped
    // backoff) three times, and goes on serving meanwhile.
    const failed = circuits().failures;
    await until(() => circuits().failures >= failed + 3, 'three failed attempts to resume the watch', {
      timeoutMs: 15_000,
    });
    assert.equal(circuits().watching, false);
    await servesWhatItKnew();
    assert.equal(circuits().revision, revisionBefore, 'nothing was seen during the outage');
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
    assert.equal(circuits().watching, true);
    assert.ok(circuits().revision > revisionBefore, 'the resumed watch delivered what was missed');
  });

  test('a compacted revision makes it re-snapshot and diff instead', async () => {
    const keep = await h.addRoute();
    const drop = await h.addRoute();
    const snapshots = countSnapshots(h.kv, kvKeys.circuits(h.authority));
    const circuits = () => h.worker.status().circuits;
    const failed = circuits().failures;
    h.kv.setUnavailable(true);
    // The worker's watch is down and its first attempt to resume it failed: it is in its backoff.
    await until(
      () => !circuits().watching && circuits().failures > failed,
      'a failed attempt to resume the watch',
      { timeoutMs: 5000 },
    );
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
    await until(() => circuits().watching, 'the watch to be established again', { timeoutMs: 5000 });
  });
});
