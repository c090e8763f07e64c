/**
 * The KV role's contract (etcd semantics). Every adapter — the embedded in-process store and the
 * etcd adapter — must pass it. Tests use a random key prefix each, so suites can share a server;
 * they only assert ordering and relations between revisions, never absolute numbers or "+1"
 * steps, since other clients of a shared server also advance the revision.
 *
 * Adapter internals are reached only through the optional hooks: `expireLease` (make a lease run
 * out as if its holder stopped keeping it alive) and `compact` (compact history up to a revision).
 * Without a hook, only the case that needs it is skipped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KvEvent, type KvStore, KvWatchError, type KvWatchHandlers } from '../../../src/stores/types.ts';
import { until } from '../../support/poll.ts';
import { settlesWithin, uniquePrefix } from './util.ts';

export interface KvContractHooks<S extends KvStore> {
  /** Makes the lease expire now, as if its holder stopped answering for its TTL. */
  expireLease?(store: S, leaseId: string): Promise<void>;
  /** Compacts the store's history up to and including `revision`. */
  compact?(store: S, revision: number): Promise<void>;
}

/** How long a test waits for a watch event that must come. */
const DELIVERY_MS = 5_000;

interface Collector {
  events: KvEvent[];
  batches: KvEvent[][];
  errors: KvWatchError[];
  handlers: KvWatchHandlers;
  /** Waits until at least `n` events arrived. */
  waitForEvents(n: number): Promise<void>;
  waitForError(): Promise<KvWatchError>;
  show(): string;
}

/**
 * Puts `key` (inside the range the collectors watch) and waits until each collector saw it. Watch
 * events come in revision order, so by then every event of an earlier change has arrived: a check
 * that an event did not come is made after this, not after a pause. The marker's events are then
 * dropped, so what a test asserts is exactly what came before.
 */
async function settle(kv: KvStore, key: string, ...collectors: Collector[]): Promise<void> {
  const revision = await kv.put(key, 'marker');
  const isMarker = (e: KvEvent) => e.key === key && e.revision === revision;
  for (const c of collectors) {
    await until(
      () => {
        assert.ok(c.events.some(isMarker), c.show());
        return true;
      },
      `the marker put at revision ${revision}`,
      { timeoutMs: DELIVERY_MS },
    );
    c.events.splice(0, c.events.length, ...c.events.filter((e) => !isMarker(e)));
    // A batch that held only the marker goes; one the adapter delivered empty stays (and fails).
    const kept = c.batches.flatMap((b) => {
      if (!b.some(isMarker)) return [b];
      const rest = b.filter((e) => !isMarker(e));
      return rest.length > 0 ? [rest] : [];
    });
    c.batches.splice(0, c.batches.length, ...kept);
  }
}

function collector(): Collector {
  const events: KvEvent[] = [];
  const batches: KvEvent[][] = [];
  const errors: KvWatchError[] = [];
  const show = () =>
    `events=${JSON.stringify(events.map((e) => [e.type, e.key, e.value, e.revision]))} errors=${errors.map((e) => e.reason)}`;
  return {
    events,
    batches,
    errors,
    handlers: {
      onEvents(evs) {
        batches.push([...evs]);
        events.push(...evs);
      },
      onError(err) {
        errors.push(err);
      },
    },
    show,
    async waitForEvents(n) {
      await until(
        () => {
          assert.ok(events.length >= n, show());
          return true;
        },
        `${n} events`,
        { timeoutMs: DELIVERY_MS },
      );
    },
    async waitForError() {
      await until(
        () => {
          assert.ok(errors.length > 0, show());
          return true;
        },
        'a watch error',
        { timeoutMs: DELIVERY_MS },
      );
      return errors[0]!;
    },
  };
}

const brief = (events: KvEvent[]) => events.map((e) => [e.type, e.key, e.value]);

function assertStrictlyOrdered(events: KvEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]!.revision >= events[i - 1]!.revision, `events out of revision order at ${i}`);
  }
  const seen = new Set(events.map((e) => `${e.revision}|${e.type}|${e.key}`));
  assert.equal(seen.size, events.length, 'an event was delivered twice');
}

export function kvContract<S extends KvStore>(
  name: string,
  open: () => Promise<S>,
  hooks: KvContractHooks<S> = {},
): void {
  /** Opens a store for one test and closes it afterwards, whatever happens. */
  async function withStore(fn: (kv: S, p: string) => Promise<void>, label = 'kv'): Promise<void> {
    const kv = await open();
    try {
      await fn(kv, uniquePrefix(label));
    } finally {
      await kv.close();
    }
  }

  describe(`KvStore contract: ${name}`, () => {
    describe('get / put / delete', () => {
      it('tracks createRevision, modRevision and version across puts, deletes and re-creation', () =>
        withStore(async (kv, p) => {
          const k = `${p}key`;
          assert.equal(await kv.get(k), undefined);

          const r1 = await kv.put(k, 'v1');
          assert.ok(Number.isInteger(r1) && r1 > 0, `revision ${r1}`);
          assert.deepEqual(await kv.get(k), {
            key: k,
            value: 'v1',
            createRevision: r1,
            modRevision: r1,
            version: 1,
            lease: null,
          });

          const r2 = await kv.put(k, 'v2');
          assert.ok(r2 > r1, `second put revision ${r2} not after ${r1}`);
          const e2 = await kv.get(k);
          assert.equal(e2?.value, 'v2');
          assert.equal(e2?.createRevision, r1, 'createRevision changed on update');
          assert.equal(e2?.modRevision, r2);
          assert.equal(e2?.version, 2);

          const r3 = await kv.delete(k);
          assert.ok(r3 > r2, `delete revision ${r3} not after ${r2}`);
          assert.equal(await kv.get(k), undefined);

          const r4 = await kv.put(k, 'v3');
          assert.ok(r4 > r3);
          const e4 = await kv.get(k);
          assert.equal(e4?.createRevision, r4, 're-created key keeps its old createRevision');
          assert.equal(e4?.version, 1, 're-created key keeps its old version');
        }));

      it('gives every write a later revision than the one before, across keys', () =>
        withStore(async (kv, p) => {
          const revs: number[] = [];
          for (let i = 0; i < 5; i++) revs.push(await kv.put(`${p}k${i}`, String(i)));
          for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, `revisions ${revs}`);
          for (let i = 0; i < 5; i++) assert.equal((await kv.get(`${p}k${i}`))?.modRevision, revs[i]);
        }));

      it('deleting a missing key changes nothing and returns a revision', () =>
        withStore(async (kv, p) => {
          const before = await kv.put(`${p}other`, 'x');
          const r = await kv.delete(`${p}missing`);
          assert.ok(Number.isInteger(r) && r >= before, `revision ${r}`);
          assert.equal(await kv.get(`${p}missing`), undefined);
          assert.equal((await kv.get(`${p}other`))?.value, 'x');
        }));

      it('stores values verbatim (empty, unicode, JSON)', () =>
        withStore(async (kv, p) => {
          const values = ['', 'héllo ✓ 世界', JSON.stringify({ a: [1, 2], b: 'x"y' }), ' spaced '];
          for (const [i, v] of values.entries()) await kv.put(`${p}${i}`, v);
          for (const [i, v] of values.entries()) assert.equal((await kv.get(`${p}${i}`))?.value, v);
        }));
    });

    describe('getPrefix', () => {
      it('returns exactly the keys under the prefix, sorted by key bytes, with a covering revision', () =>
        withStore(async (kv, p) => {
          const inside = [`${p}x/c`, `${p}x/a`, `${p}x/B`, `${p}x/b/1`, `${p}x/b`];
          const outside = [`${p}xy`, `${p}y/a`, `${p}x`];
          let last = 0;
          for (const k of [...inside, ...outside]) last = await kv.put(k, `val:${k}`);

          const { entries, revision } = await kv.getPrefix(`${p}x/`);
          assert.deepEqual(
            entries.map((e) => e.key),
            [`${p}x/B`, `${p}x/a`, `${p}x/b`, `${p}x/b/1`, `${p}x/c`],
          );
          assert.ok(revision >= last, `snapshot revision ${revision} before last write ${last}`);
          for (const e of entries) {
            assert.equal(e.value, `val:${e.key}`);
            assert.deepEqual(await kv.get(e.key), e);
            assert.ok(e.modRevision <= revision);
          }
        }));

      it('returns no entries for an unused prefix, still with the current revision', () =>
        withStore(async (kv, p) => {
          const r = await kv.put(`${p}a`, '1');
          const { entries, revision } = await kv.getPrefix(`${p}none/`);
          assert.deepEqual(entries, []);
          assert.ok(revision >= r);
        }));
    });

    describe('txn', () => {
      it('applies all success ops at one revision', () =>
        withStore(async (kv, p) => {
          const before = await kv.put(`${p}gone`, 'x');
          const res = await kv.txn(
            [],
            [
              { type: 'put', key: `${p}a`, value: '1' },
              { type: 'put', key: `${p}b`, value: '2' },
              { type: 'delete', key: `${p}gone` },
            ],
          );
          assert.equal(res.succeeded, true);
          assert.ok(res.revision > before);
          assert.equal((await kv.get(`${p}a`))?.modRevision, res.revision);
          assert.equal((await kv.get(`${p}b`))?.modRevision, res.revision);
          assert.equal(await kv.get(`${p}gone`), undefined);
        }));

      it('compare-and-set on version: success branch when equal, failure branch otherwise', () =>
        withStore(async (kv, p) => {
          const k = `${p}k`;
          await kv.put(k, 'v1');
          const ok = await kv.txn(
            [{ key: k, target: 'version', op: '=', value: 1 }],
            [{ type: 'put', key: k, value: 'v2' }],
            [{ type: 'put', key: `${p}failed`, value: '1' }],
          );
          assert.equal(ok.succeeded, true);
          assert.equal((await kv.get(k))?.value, 'v2');
          assert.equal(await kv.get(`${p}failed`), undefined, 'failure branch ran on success');

          const stale = await kv.txn(
            [{ key: k, target: 'version', op: '=', value: 1 }],
            [{ type: 'put', key: k, value: 'v3' }],
            [{ type: 'put', key: `${p}failed`, value: '1' }],
          );
          assert.equal(stale.succeeded, false);
          assert.equal((await kv.get(k))?.value, 'v2', 'success branch ran on a failed compare');
          assert.equal((await kv.get(`${p}failed`))?.value, '1', 'failure branch did not run');
          assert.equal((await kv.get(`${p}failed`))?.modRevision, stale.revision);
        }));

      it('compares modRevision and createRevision with =, !=, < and >', () =>
        withStore(async (kv, p) => {
          const k = `${p}k`;
          const c = await kv.put(k, 'v1');
          const m = await kv.put(k, 'v2');
          const check = async (
            target: 'modRevision' | 'createRevision',
            op: '=' | '!=' | '<' | '>',
            value: number,
            expected: boolean,
          ) => {
            const res = await kv.txn([{ key: k, target, op, value }], []);
            assert.equal(res.succeeded, expected, `${target} ${op} ${value} (create ${c}, mod ${m})`);
          };
          await check('modRevision', '=', m, true);
          await check('modRevision', '=', c, false);
          await check('modRevision', '!=', c, true);
          await check('modRevision', '!=', m, false);
          await check('modRevision', '<', m + 1, true);
          await check('modRevision', '<', m, false);
          await check('modRevision', '>', m - 1, true);
          await check('modRevision', '>', m, false);
          await check('createRevision', '=', c, true);
          await check('createRevision', '=', m, false);
          await check('createRevision', '<', m, true);
        }));

      it('compares values with = and !=; a value compare on a missing key fails', () =>
        withStore(async (kv, p) => {
          const k = `${p}k`;
          await kv.put(k, 'owner-a');
          const t = async (op: '=' | '!=', value: string, key = k) =>
            (await kv.txn([{ key, target: 'value', op, value }], [])).succeeded;
          assert.equal(await t('=', 'owner-a'), true);
          assert.equal(await t('=', 'owner-b'), false);
          assert.equal(await t('!=', 'owner-b'), true);
          assert.equal(await t('!=', 'owner-a'), false);
          // etcd: comparing the value of a key that does not exist is always false.
          assert.equal(await t('=', '', `${p}missing`), false);
          assert.equal(await t('!=', 'anything', `${p}missing`), false);
        }));

      it('needs every compare to hold', () =>
        withStore(async (kv, p) => {
          await kv.put(`${p}a`, '1');
          await kv.put(`${p}b`, '2');
          const res = await kv.txn(
            [
              { key: `${p}a`, target: 'value', op: '=', value: '1' },
              { key: `${p}b`, target: 'value', op: '=', value: 'not-2' },
            ],
            [{ type: 'put', key: `${p}c`, value: 'yes' }],
            [{ type: 'put', key: `${p}c`, value: 'no' }],
          );
          assert.equal(res.succeeded, false);
          assert.equal((await kv.get(`${p}c`))?.value, 'no');
        }));

      it('create-if-absent with createRevision = 0 and with version = 0', () =>
        withStore(async (kv, p) => {
          for (const target of ['createRevision', 'version'] as const) {
            const k = `${p}${target}`;
            const first = await kv.txn(
              [{ key: k, target, op: '=', value: 0 }],
              [{ type: 'put', key: k, value: 'first' }],
            );
            assert.equal(first.succeeded, true, `${target}: first create`);
            const second = await kv.txn(
              [{ key: k, target, op: '=', value: 0 }],
              [{ type: 'put', key: k, value: 'second' }],
            );
            assert.equal(second.succeeded, false, `${target}: second create`);
            assert.equal((await kv.get(k))?.value, 'first');
            // Once deleted, the key can be created again.
            await kv.delete(k);
            const again = await kv.txn(
              [{ key: k, target, op: '=', value: 0 }],
              [{ type: 'put', key: k, value: 'again' }],
            );
            assert.equal(again.succeeded, true, `${target}: create after delete`);
          }
        }));

      it('create-if-absent from 10 concurrent callers: exactly one wins', () =>
        withStore(async (kv, p) => {
          const k = `${p}lock`;
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              kv.txn(
                [{ key: k, target: 'createRevision', op: '=', value: 0 }],
                [{ type: 'put', key: k, value: `c${i}` }],
              ),
            ),
          );
          const winners = results.flatMap((r, i) => (r.succeeded ? [i] : []));
          assert.equal(winners.length, 1, `winners: ${winners}`);
          const e = await kv.get(k);
          assert.equal(e?.value, `c${winners[0]}`);
          assert.equal(e?.version, 1);
        }));

      it('with a failed compare and no failure ops, changes nothing', () =>
        withStore(async (kv, p) => {
          const r = await kv.put(`${p}a`, '1');
          const res = await kv.txn(
            [{ key: `${p}a`, target: 'value', op: '=', value: '2' }],
            [{ type: 'put', key: `${p}a`, value: 'changed' }],
          );
          assert.equal(res.succeeded, false);
          assert.ok(res.revision >= r);
          const e = await kv.get(`${p}a`);
          assert.equal(e?.value, '1');
          assert.equal(e?.modRevision, r);
        }));

      it('deletePrefix removes exactly the keys under the prefix, at one revision', () =>
        withStore(async (kv, p) => {
          for (const k of ['d/1', 'd/2', 'd/sub/3', 'dx', 'e/1']) await kv.put(`${p}${k}`, k);
          const c = collector();
          const { revision: snap } = await kv.getPrefix(p);
          const w = await kv.watch(p, snap, c.handlers);
          try {
            const res = await kv.txn([], [{ type: 'deletePrefix', prefix: `${p}d/` }]);
            assert.equal(res.succeeded, true);
            assert.deepEqual(
              (await kv.getPrefix(p)).entries.map((e) => e.key),
              [`${p}dx`, `${p}e/1`],
            );
            await c.waitForEvents(3);
            assert.deepEqual(c.events.map((e) => [e.type, e.key, e.value]).sort(), [
              ['delete', `${p}d/1`, null],
              ['delete', `${p}d/2`, null],
              ['delete', `${p}d/sub/3`, null],
            ]);
            for (const e of c.events) assert.equal(e.revision, res.revision);
            // Deleting an empty prefix is harmless.
            await kv.txn([], [{ type: 'deletePrefix', prefix: `${p}d/` }]);
            assert.equal((await kv.getPrefix(p)).entries.length, 2);
          } finally {
            await w.close();
          }
        }));
    });

    describe('watch', () => {
      it('delivers the later changes under the prefix in order, exactly once', () =>
        withStore(async (kv, p) => {
          const c = collector();
          const { revision: snap } = await kv.getPrefix(p);
          const w = await kv.watch(p, snap, c.handlers);
          try {
            const r1 = await kv.put(`${p}a`, '1');
            const r2 = await kv.put(`${p}b`, '2');
            const r3 = await kv.delete(`${p}a`);
            const r4 = (
              await kv.txn(
                [],
                [
                  { type: 'put', key: `${p}c`, value: '3' },
                  { type: 'put', key: `${p}d`, value: '4' },
                ],
              )
            ).revision;
            const r5 = await kv.put(`${p}b`, '2b');
            await c.waitForEvents(6);
            await settle(kv, `${p}marker`, c);
            assert.deepEqual(
              c.events.map((e) => [e.type, e.key, e.value, e.revision]),
              [
                ['put', `${p}a`, '1', r1],
                ['put', `${p}b`, '2', r2],
                ['delete', `${p}a`, null, r3],
                ['put', `${p}c`, '3', r4],
                ['put', `${p}d`, '4', r4],
                ['put', `${p}b`, '2b', r5],
              ],
              c.show(),
            );
            assertStrictlyOrdered(c.events);
            for (const b of c.batches) assert.ok(b.length > 0, 'empty batch delivered');
            assert.deepEqual(c.errors, []);
          } finally {
            await w.close();
          }
        }));

      it('from a snapshot revision, includes changes made between the snapshot and the watch', () =>
        withStore(async (kv, p) => {
          await kv.put(`${p}existing`, '0');
          const { entries, revision: snap } = await kv.getPrefix(p);
          assert.equal(entries.length, 1);
          const r1 = await kv.put(`${p}x`, '1');
          const r2 = await kv.put(`${p}y`, '2');

          const all = collector();
          const fromSnap = await kv.watch(p, snap, all.handlers);
          const later = collector();
          const fromR1 = await kv.watch(p, r1, later.handlers);
          try {
            const r3 = await kv.put(`${p}z`, '3');
            await all.waitForEvents(3);
            await later.waitForEvents(2);
            await settle(kv, `${p}marker`, all, later);
            assert.deepEqual(
              all.events.map((e) => [e.key, e.revision]),
              [
                [`${p}x`, r1],
                [`${p}y`, r2],
                [`${p}z`, r3],
              ],
              all.show(),
            );
            // afterRevision is exclusive: the change at r1 itself is not repeated.
            assert.deepEqual(
              later.events.map((e) => [e.key, e.revision]),
              [
                [`${p}y`, r2],
                [`${p}z`, r3],
              ],
              later.show(),
            );
          } finally {
            await fromSnap.close();
            await fromR1.close();
          }
        }));

      it('from the current revision, delivers nothing until something changes', () =>
        withStore(async (kv, p) => {
          await kv.put(`${p}a`, '1');
          const { revision } = await kv.getPrefix(p);
          const c = collector();
          const w = await kv.watch(p, revision, c.handlers);
          try {
            // A replayed old change would come before this one (events come in revision order).
            await kv.put(`${p}b`, '2');
            await c.waitForEvents(1);
            assert.deepEqual(brief(c.events), [['put', `${p}b`, '2']], 'old changes replayed');
          } finally {
            await w.close();
          }
        }));

      it('excludes changes outside the prefix', () =>
        withStore(async (kv, p) => {
          const c = collector();
          const { revision } = await kv.getPrefix(p);
          const w = await kv.watch(`${p}a/`, revision, c.handlers);
          try {
            await kv.put(`${p}ab`, 'no');
            await kv.put(`${p}a`, 'no');
            await kv.put(`${p}b/a/1`, 'no');
            await kv.put(`${p}a/1`, 'yes');
            await kv.txn(
              [],
              [
                { type: 'put', key: `${p}a/2`, value: 'yes' },
                { type: 'put', key: `${p}b/2`, value: 'no' },
              ],
            );
            await kv.txn([], [{ type: 'deletePrefix', prefix: `${p}b/` }]);
            await c.waitForEvents(2);
            await settle(kv, `${p}a/marker`, c);
            assert.deepEqual(
              brief(c.events),
              [
                ['put', `${p}a/1`, 'yes'],
                ['put', `${p}a/2`, 'yes'],
              ],
              c.show(),
            );
          } finally {
            await w.close();
          }
        }));

      it('stops delivering once the watcher is closed', () =>
        withStore(async (kv, p) => {
          const c = collector();
          const { revision } = await kv.getPrefix(p);
          const w = await kv.watch(p, revision, c.handlers);
          // A second watcher of the same range, left open: once it saw the later changes (and a
          // marker after them), the closed one had every chance to receive them too.
          const probe = collector();
          const pw = await kv.watch(p, revision, probe.handlers);
          try {
            await kv.put(`${p}before`, '1');
            await c.waitForEvents(1);
            await w.close();
            await kv.put(`${p}after`, '2');
            await kv.delete(`${p}before`);
            await probe.waitForEvents(3);
            await settle(kv, `${p}marker`, probe);
            assert.deepEqual(brief(c.events), [['put', `${p}before`, '1']], c.show());
            assert.deepEqual(c.errors, [], 'closing a watcher is not an error');
          } finally {
            await pw.close();
          }
        }));

      it('serves several watchers independently', () =>
        withStore(async (kv, p) => {
          const { revision } = await kv.getPrefix(p);
          const wide = collector();
          const narrow = collector();
          const ww = await kv.watch(p, revision, wide.handlers);
          const wn = await kv.watch(`${p}n/`, revision, narrow.handlers);
          try {
            await kv.put(`${p}w`, '1');
            await kv.put(`${p}n/1`, '2');
            // A network watch may still have n/1 in flight when the put resolves; closing drops
            // what is in flight, so wait for it before closing (what is tested is independence).
            await narrow.waitForEvents(1);
            await wn.close();
            await kv.put(`${p}n/2`, '3');
            await wide.waitForEvents(3);
            await settle(kv, `${p}marker`, wide);
            assert.deepEqual(
              wide.events.map((e) => e.key),
              [`${p}w`, `${p}n/1`, `${p}n/2`],
            );
            assert.deepEqual(
              narrow.events.map((e) => e.key),
              [`${p}n/1`],
            );
          } finally {
            await ww.close();
          }
        }));

      it(
        "from a compacted revision ends with 'compacted'",
        { skip: hooks.compact ? false : 'adapter gave no compact hook' },
        () =>
          withStore(async (kv, p) => {
            const r0 = await kv.put(`${p}a`, '1');
            await kv.put(`${p}a`, '2');
            await kv.put(`${p}b`, '3');
            const r3 = await kv.put(`${p}a`, '4');
            await hooks.compact!(kv, r3);

            const c = collector();
            const w = await kv.watch(p, r0, c.handlers);
            try {
              const err = await c.waitForError();
              assert.ok(err instanceof KvWatchError, `not a KvWatchError: ${err}`);
              assert.equal(err.reason, 'compacted');
              if (err.compactRevision !== undefined)
                assert.ok(err.compactRevision >= r3, `${err.compactRevision}`);
              assert.deepEqual(c.events, [], 'events delivered from a compacted start');
            } finally {
              await w.close();
            }

            // A watch from the compaction revision onwards still works.
            const ok = collector();
            const w2 = await kv.watch(p, r3, ok.handlers);
            try {
              await kv.put(`${p}c`, '5');
              await ok.waitForEvents(1);
              assert.deepEqual(brief(ok.events), [['put', `${p}c`, '5']]);
              assert.deepEqual(ok.errors, []);
            } finally {
              await w2.close();
            }
          }),
      );

      it("ends with 'closed' when the store closes, and the store refuses further calls", async () => {
        const kv = await open();
        const p = uniquePrefix('kv');
        let closed = false;
        try {
          const c = collector();
          const { revision } = await kv.getPrefix(p);
          await kv.watch(p, revision, c.handlers);
          await kv.close();
          closed = true;
          const err = await c.waitForError();
          assert.ok(err instanceof KvWatchError);
          assert.equal(err.reason, 'closed');
          assert.equal(c.errors.length, 1, 'onError called more than once');
          await assert.rejects(kv.get(`${p}a`));
          await assert.rejects(kv.put(`${p}a`, '1'));
        } finally {
          if (!closed) await kv.close();
        }
      });
    });

    describe('leases', () => {
      it('deletes the keys attached to a lease when it is revoked, and resolves lost', () =>
        withStore(async (kv, p) => {
          const lease = await kv.grantLease(10_000);
          assert.ok(typeof lease.id === 'string' && lease.id.length > 0);
          await kv.put(`${p}a`, '1', { lease: lease.id });
          await kv.txn([], [{ type: 'put', key: `${p}b`, value: '2', lease: lease.id }]);
          await kv.put(`${p}keep`, '3');
          assert.equal((await kv.get(`${p}a`))?.lease, lease.id);
          assert.equal((await kv.get(`${p}b`))?.lease, lease.id);
          assert.equal((await kv.get(`${p}keep`))?.lease, null);

          const c = collector();
          const { revision } = await kv.getPrefix(p);
          const w = await kv.watch(p, revision, c.handlers);
          try {
            assert.equal(
              await settlesWithin(lease.lost, 50),
              'pending',
              'lost resolved while the lease is held',
            );
            await lease.revoke();
            assert.equal(
              await settlesWithin(lease.lost, DELIVERY_MS),
              'resolved',
              'lost did not resolve on revoke',
            );
            await c.waitForEvents(2);
            await settle(kv, `${p}marker`, c);
            assert.deepEqual(
              brief(c.events).sort(),
              [
                ['delete', `${p}a`, null],
                ['delete', `${p}b`, null],
              ],
              c.show(),
            );
            assert.equal(await kv.get(`${p}a`), undefined);
            assert.equal(await kv.get(`${p}b`), undefined);
            assert.equal((await kv.get(`${p}keep`))?.value, '3');
          } finally {
            await w.close();
          }
        }));

      it('refuses a put with an unknown (revoked) lease', () =>
        withStore(async (kv, p) => {
          const lease = await kv.grantLease(10_000);
          await lease.revoke();
          await assert.rejects(kv.put(`${p}a`, '1', { lease: lease.id }));
          await assert.rejects(kv.txn([], [{ type: 'put', key: `${p}b`, value: '1', lease: lease.id }]));
          assert.equal(await kv.get(`${p}a`), undefined);
          assert.equal(await kv.get(`${p}b`), undefined);
        }));

      it('detaches a key re-put without the lease, so revoking spares it', () =>
        withStore(async (kv, p) => {
          const lease = await kv.grantLease(10_000);
          await kv.put(`${p}a`, '1', { lease: lease.id });
          await kv.put(`${p}b`, '1', { lease: lease.id });
          await kv.put(`${p}a`, '2');
          assert.equal((await kv.get(`${p}a`))?.lease, null);
          await lease.revoke();
          await until(
            async () => (await kv.get(`${p}b`)) === undefined,
            'the leased key to go with the revoke',
            { timeoutMs: DELIVERY_MS },
          );
          assert.equal((await kv.get(`${p}a`))?.value, '2');
        }));

      it('keeps a held lease alive and its keys in place', () =>
        withStore(async (kv, p) => {
          const lease = await kv.grantLease(2_000);
          try {
            await kv.put(`${p}a`, '1', { lease: lease.id });
            assert.equal(await settlesWithin(lease.lost, 500), 'pending');
            assert.equal((await kv.get(`${p}a`))?.value, '1');
          } finally {
            await lease.revoke();
          }
        }));

      it(
        'deletes the keys of an expired lease (delete events delivered) and resolves lost',
        {
          skip: hooks.expireLease
            ? false
            : 'adapter gave no expireLease hook; real expiry needs the holder to stop keep-alives',
        },
        () =>
          withStore(async (kv, p) => {
            const lease = await kv.grantLease(10_000);
            const other = await kv.grantLease(10_000);
            try {
              await kv.put(`${p}a`, '1', { lease: lease.id });
              await kv.put(`${p}o`, '1', { lease: other.id });
              const c = collector();
              const { revision } = await kv.getPrefix(p);
              const w = await kv.watch(p, revision, c.handlers);
              try {
                await hooks.expireLease!(kv, lease.id);
                assert.equal(
                  await settlesWithin(lease.lost, DELIVERY_MS),
                  'resolved',
                  'lost did not resolve',
                );
                await c.waitForEvents(1);
                await settle(kv, `${p}marker`, c);
                assert.deepEqual(brief(c.events), [['delete', `${p}a`, null]], c.show());
                assert.equal(await kv.get(`${p}a`), undefined);
                assert.equal((await kv.get(`${p}o`))?.value, '1', 'another lease was affected');
                assert.equal(await settlesWithin(other.lost, 50), 'pending');
                await assert.rejects(kv.put(`${p}b`, '1', { lease: lease.id }), 'expired lease still usable');
              } finally {
                await w.close();
              }
            } finally {
              await other.revoke();
            }
          }),
      );
    });
  });
}
