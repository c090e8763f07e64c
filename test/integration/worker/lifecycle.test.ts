/**
 * The worker's life with the stores: route add/replace/delete, readiness marks (including errors
 * that leave the other circuits alone), lease loss, watch loss with compaction, restart, activity.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { counterKeys } from '../../../src/contracts/activity.ts';
import { kvKeys, type WorkerRegistration } from '../../../src/contracts/kv-layout.ts';
import { EmbeddedKvStore } from '../../../src/stores/embedded/kv.ts';
import {
  type KvEvent,
  type KvStore,
  KvWatchError,
  type KvWatcher,
  type KvWatchHandlers,
} from '../../../src/stores/types.ts';
import { until } from '../../support/poll.ts';
import { WorkerHarness } from './harness.ts';

/** The embedded KV store with a switch that cuts the worker's watches, as a network outage would. */
class FlakyKv extends EmbeddedKvStore implements KvStore {
  private readonly live = new Set<{ handlers: KvWatchHandlers; paused: boolean }>();

  override async watch(prefix: string, afterRevision: number, handlers: KvWatchHandlers): Promise<KvWatcher> {
    const w = { handlers, paused: false };
    this.live.add(w);
    const inner = await super.watch(prefix, afterRevision, {
      onEvents: (events: KvEvent[]) => {
        if (!w.paused) handlers.onEvents(events);
      },
      onError: (err) => handlers.onError(err),
    });
    return {
      close: async () => {
        this.live.delete(w);
        await inner.close();
      },
    };
  }

  /** From now on the current watches deliver nothing (events are lost). */
  pauseWatches(): void {
    for (const w of this.live) w.paused = true;
  }

  /** Ends every current watch with `reason`. */
  failWatches(reason: 'compacted' | 'closed' | 'unavailable'): void {
    for (const w of [...this.live]) {
      this.live.delete(w);
      w.handlers.onError(new KvWatchError(reason, this.currentRevision));
    }
  }
}

for (const mode of ['port', 'wildcard'] as const) {
  describe(`worker lifecycle (${mode} mode)`, () => {
    let h: WorkerHarness;
    let kv: FlakyKv;

    before(async () => {
      kv = new FlakyKv();
      h = await WorkerHarness.start({ mode, kv });
    });
    after(() => h.close());

    test('deleting a route refuses new requests and closes its open WebSocket and streams', async () => {
      const keep = await h.addRoute();
      const keepCookie = await h.login(keep);
      const r = await h.addRoute();
      const cookie = await h.login(r);
      const ws = new WebSocket(`ws://127.0.0.1:${r.port}/ws`, { headers: { host: r.host, cookie } });
      await once(ws, 'open');
      const sse = request({
        host: '127.0.0.1',
        port: r.port,
        path: '/sse',
        headers: { host: r.host, cookie },
        agent: false,
      });
      sse.on('error', () => {});
      sse.end();
      const [sseRes] = await once(sse, 'response');
      sseRes.on('error', () => {});
      const sseClosed = new Promise((resolve) => sseRes.on('close', resolve));
      const wsClosed = once(ws, 'close');
      const count = h.worker.routeCount();

      await h.deleteRoute(r);
      await wsClosed;
      await sseClosed;
      assert.equal(h.worker.routeCount(), count - 1);
      if (mode === 'port') {
        await assert.rejects(h.request(r, { cookie }), /ECONNREFUSED/);
      } else {
        const res = await h.request(r, { cookie, headers: { accept: 'application/json' } });
        assert.equal(res.status, 410);
        assert.equal(JSON.parse(res.body.toString()).code, 'AP_ERR_CIRCUIT_CLOSED');
      }
      assert.equal((await h.request(keep, { cookie: keepCookie })).status, 200);
    });

    test('circuits that cannot be served get an error mark; the others keep serving', async () => {
      const good = await h.addRoute();
      const goodCookie = await h.login(good);
      const cases: [object, string][] = [
        [{ protocol: 'tcp' }, 'AP_ERR_PROTOCOL_UNSUPPORTED'],
        [{ frontendMode: mode === 'port' ? 'wildcard' : 'port' }, 'AP_ERR_ROUTE_INVALID'],
        [{ backends: [] }, 'AP_ERR_ROUTE_INVALID'],
      ];
      if (mode === 'port') {
        cases.push([{ port: h.portRange[1] + 1 }, 'AP_ERR_SLOT_UNAVAILABLE']);
      } else {
        cases.push([{ subdomain: good.spec.subdomain }, 'AP_ERR_SLOT_UNAVAILABLE']);
      }
      for (const [patch, code] of cases) {
        const r = await h.putRoute(h.makeSpec(patch), 'error');
        assert.equal(r.state === 'error' && r.code, code, JSON.stringify(patch));
      }
      // Malformed JSON.
      await h.kv.put(kvKeys.circuit(h.authority, 'broken'), '{not json');
      const broken = await until(() => h.readiness('broken'), 'readiness of broken', { timeoutMs: 5000 });
      assert.equal(broken.state === 'error' && broken.code, 'AP_ERR_ROUTE_INVALID');
      assert.equal((await h.request(good, { cookie: goodCookie })).status, 200);
    });

    if (mode === 'port') {
      test('a port already in use gets AP_ERR_SLOT_UNAVAILABLE and becomes ready once freed and re-put', async () => {
        const blocker = createServer();
        const spec = h.makeSpec();
        blocker.listen(spec.port!, '127.0.0.1');
        await once(blocker, 'listening');
        const r = await h.putRoute(spec, 'error');
        assert.equal(r.state === 'error' && r.code, 'AP_ERR_SLOT_UNAVAILABLE');
        await new Promise((res) => blocker.close(res));
        await h.putRoute({ ...spec, service: 'again' }, 'ready');
        const route = h.routeOf(spec);
        assert.equal((await h.request(route, { cookie: await h.login(route) })).status, 200);
      });
    }

    test('lease loss ⇒ the worker registers again and re-puts its readiness marks', async () => {
      const r = await h.addRoute();
      const regKey = kvKeys.registration(h.authority);
      const before = (await h.kv.get(regKey))!;
      const reg = JSON.parse(before.value) as WorkerRegistration;
      assert.equal(reg.frontendMode, mode);
      if (mode === 'wildcard') assert.equal(reg.publicPort, h.worker.wildcardPort);
      h.kv.expireLease(before.lease!);
      assert.equal(await h.kv.get(regKey), undefined);
      const again = await until(() => h.kv.get(regKey), 'registration again', { timeoutMs: 5000 });
      assert.notEqual(again.lease, before.lease);
      const mark = await until(() => h.readiness(r.spec.id), 'readiness re-put', { timeoutMs: 5000 });
      assert.equal(mark.state, 'ready');
      const entry = await h.kv.get(kvKeys.ready(h.authority, r.spec.id));
      assert.equal(entry?.lease, again.lease);
    });

    test('a watch that ends with `compacted` ⇒ re-snapshot and diff pick up missed changes', async () => {
      const gone = await h.addRoute();
      const kept = await h.addRoute();
      const keptCookie = await h.login(kept);
      kv.pauseWatches();
      const added = h.makeSpec();
      await h.kv.put(kvKeys.circuit(h.authority, added.id), JSON.stringify(added));
      await h.kv.delete(kvKeys.circuit(h.authority, gone.spec.id));
      await new Promise((r) => setImmediate(r));
      assert.equal(await h.readiness(added.id), undefined, 'the paused watch delivered nothing');
      h.kv.compact(h.kv.currentRevision);
      kv.failWatches('compacted');
      await until(async () => (await h.readiness(added.id))?.state === 'ready', 'missed route served', {
        timeoutMs: 5000,
      });
      await until(async () => (await h.readiness(gone.spec.id)) === undefined, 'missed delete applied', {
        timeoutMs: 5000,
      });
      const addedRoute = h.routeOf(added);
      assert.equal((await h.request(addedRoute, { cookie: await h.login(addedRoute) })).status, 200);
      assert.equal((await h.request(kept, { cookie: keptCookie })).status, 200);
      // And the new watch works.
      const later = await h.addRoute();
      assert.equal((await h.readiness(later.spec.id))?.state, 'ready');
    });

    test('a restarted worker with the same authority resumes its circuits from KV', async () => {
      const r = await h.addRoute();
      const cookie = await h.login(r);
      const ids = [...(await h.kv.getPrefix(kvKeys.circuits(h.authority))).entries].length;
      await h.worker.close();
      const wildcardPort = h.worker.wildcardPort;
      h.worker = h.newWorker(mode === 'wildcard' ? { wildcardPort: wildcardPort ?? 0 } : {});
      await h.worker.start();
      assert.ok(h.worker.routeCount() >= 1 && h.worker.routeCount() <= ids);
      assert.equal((await h.request(h.routeOf(r.spec), { cookie })).status, 200);
    });

    test('activity is flushed to counters: bytes, requests, last times, open connections', async () => {
      const r = await h.addRoute();
      const cookie = await h.login(r);
      const res = await h.request(r, {
        path: '/upload',
        method: 'POST',
        cookie,
        body: Buffer.alloc(10_000, 1),
      });
      assert.equal(res.status, 200);
      const id = r.spec.id;
      const num = async (k: string) => Number((await h.counters.get(k)) ?? '0');
      await until(async () => (await num(counterKeys.bytesIn(id))) > 10_000, 'bytes in', { timeoutMs: 5000 });
      // The request's bytes and the answer's may land in two flushes (a tick between them).
      await until(async () => (await num(counterKeys.bytesOut(id))) > 0, 'bytes out', { timeoutMs: 5000 });
      assert.ok((await num(counterKeys.requests(id))) >= 1);
      const t0 = Date.now() - 60_000;
      assert.ok((await num(counterKeys.lastClientAt(id))) > t0);
      assert.ok((await num(counterKeys.lastBackendAt(id))) > t0);
      // Open connections: written while some are open (an absent key reads as 0), and a 0 once
      // they have closed. A held keep-alive connection:
      const held = connect(r.port, '127.0.0.1');
      held.write(`GET / HTTP/1.1\r\nHost: ${r.host}\r\nCookie: ${cookie}\r\n\r\n`);
      await once(held, 'data');
      const openKey = counterKeys.openConnections(id, `${h.authority}:${process.pid}`);
      await until(async () => (await h.counters.get(openKey)) === '1', 'one open connection reported', {
        timeoutMs: 5000,
      });
      const open = await h.counters.keys(`ap:act:${id}:open:`);
      assert.deepEqual(open, [openKey]);
      held.destroy();
      await until(async () => (await h.counters.get(openKey)) === '0', 'open connections back to 0', {
        timeoutMs: 5000,
      });
      // Unauthenticated traffic does not count as activity.
      const unauth = await h.addRoute();
      await h.request(unauth, { body: 'x'.repeat(5000), method: 'POST' });
      await h.request(r, { path: '/', cookie }); // forces at least one more flush cycle to pass
      await until(async () => (await num(counterKeys.requests(id))) >= 2, 'second request flushed', {
        timeoutMs: 5000,
      });
      assert.equal(await h.counters.get(counterKeys.bytesIn(unauth.spec.id)), null);
    });
  });
}

describe('worker activity with a failing counters store', () => {
  let h: WorkerHarness;
  let failing = true;
  let failures = 0;
  before(async () => {
    h = await WorkerHarness.start({ mode: 'port' });
    const real = h.counters;
    const flaky = Object.create(real) as typeof real;
    flaky.batch = async (ops) => {
      if (failing) {
        failures++;
        throw new Error('redis is down');
      }
      return real.batch(ops);
    };
    await h.worker.close();
    h.worker = h.newWorker({ counters: flaky });
    await h.worker.start();
  });
  after(() => h.close());

  test('proxying keeps working and the deltas go out once the store is back', async () => {
    const r = await h.addRoute();
    const cookie = await h.login(r);
    for (let i = 0; i < 3; i++) assert.equal((await h.request(r, { cookie })).status, 200);
    const seen = failures;
    await until(() => failures > seen + 1, 'flushes failing after the requests', { timeoutMs: 5000 });
    assert.equal(await h.counters.get(counterKeys.requests(r.spec.id)), null);
    failing = false;
    await until(
      async () => (await h.counters.get(counterKeys.requests(r.spec.id))) === '3',
      'kept deltas flushed',
      { timeoutMs: 5000 },
    );
  });
});

describe('worker readiness lists its stores', () => {
  let h: WorkerHarness;
  let countersDown = false;
  before(async () => {
    h = await WorkerHarness.start({ mode: 'port' });
    const real = h.counters;
    const flaky = Object.create(real) as typeof real;
    flaky.get = async (key) => {
      if (countersDown) throw new Error('redis is down');
      return real.get(key);
    };
    await h.worker.close();
    h.worker = h.newWorker({ counters: flaky });
  });
  after(async () => {
    h.kv.setUnavailable(false);
    await h.close();
  });

  test('starting until started; ready with both stores; degraded, and naming the store, when one is down', async () => {
    assert.equal((await h.worker.readiness()).status, 'starting');
    await h.worker.start();
    const route = await h.addRoute();
    const cookie = await h.login(route);
    const ready = await h.worker.readiness();
    assert.deepEqual(
      { ...ready, revocations: { ...ready.revocations, confirmedAt: null } },
      {
        status: 'ready',
        stores: { kv: true, counters: true },
        circuits: 1,
        revocations: { confirmedAt: null, stale: false, records: 0 },
        flags: { legacyCoordinatorApi: false, logoutRevocation: true, endpointRetries: true },
      },
    );
    assert.ok(ready.revocations.confirmedAt, 'the revocation set was confirmed');
    countersDown = true;
    assert.deepEqual((await h.worker.readiness()).stores, { kv: true, counters: false });
    assert.equal((await h.worker.readiness()).status, 'degraded');
    // Degraded, not down: what it knows is still served with the cookies it issued.
    assert.equal((await h.request(route, { cookie })).status, 200);
    countersDown = false;
    h.kv.setUnavailable(true);
    const degraded = await h.worker.readiness();
    assert.deepEqual(
      { status: degraded.status, stores: degraded.stores, circuits: degraded.circuits },
      {
        status: 'degraded',
        stores: { kv: false, counters: true },
        circuits: 1,
      },
    );
    assert.equal((await h.request(route, { cookie })).status, 200);
    h.kv.setUnavailable(false);
    assert.equal((await h.worker.readiness()).status, 'ready');
  });
});
