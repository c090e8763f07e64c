/**
 * The distributed scenarios on real PostgreSQL + etcd + Redis (test/support/infra/servers.ts), plus an etcd
 * outage of 10 s with two managers and a real worker. Skipped only with APPPROXY_SKIP_REAL_STORES=1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { CookieJar, request } from '../../support/http.ts';
import { type AllServers, skipRealStores, startAll } from '../../support/infra/servers.ts';
import { until } from '../../support/poll.ts';
import { startUpstream, type Upstream } from '../../support/upstream.ts';
import { InProcessCluster, portWindow, realStores } from './cluster.ts';
import { clusterSuite, doctorClean, externalSession, open } from './suite.ts';

let servers: AllServers | undefined;
let failure: unknown;
if (!skipRealStores) {
  try {
    servers = await startAll();
  } catch (err) {
    failure = err;
  }
}

if (skipRealStores) {
  it('real-store distributed tests', { skip: 'APPPROXY_SKIP_REAL_STORES=1' }, () => {});
} else if (!servers) {
  it('starts real PostgreSQL, etcd and Redis', () => {
    throw failure;
  });
} else {
  const s = servers;
  after(() => s.dispose());
  clusterSuite('real PostgreSQL + etcd + Redis', () => realStores(s));

  describe('etcd stopped for 10 s (real stores)', () => {
    let c: InProcessCluster;
    let up: Upstream;
    before(async () => {
      up = await startUpstream();
      c = await InProcessCluster.create(await realStores(s), {
        managers: 2,
        leaderTtlMs: 2000,
        manager: { reconcileIntervalMs: 1000, circuitCloseTimeoutMs: 1000, terminatingStuckMs: 3000 },
      });
      await c.startWorker('w1', portWindow(), 2000);
      await until(
        async () => (await c.api('GET', '/v1/workers')).body.items.some((w: any) => w.healthy),
        'worker',
        { timeoutMs: 15_000 },
      );
    });
    after(async () => {
      await c.close();
      await up.close();
    });

    test('workers keep serving; changes made just before and during the outage all land after it', async () => {
      const sess = await externalSession(c, up, 'outage');
      const a = await open(c, sess);
      const jarA = new CookieJar();
      assert.equal((await request(a.setupUrl, { jar: jarA })).status, 302);
      assert.equal((await request(a.appUrl, { jar: jarA })).status, 200);
      const b = await open(c, await externalSession(c, up, 'outage-b'));
      const d = await open(c, await externalSession(c, up, 'outage-d'));
      const sessE = await externalSession(c, up, 'outage-e');
      const e = await open(c, sessE);
      // Just before the outage: one circuit created, one deleted.
      const cNew = await open(c, await externalSession(c, up, 'outage-c'));
      assert.equal((await c.api('DELETE', `/v1/circuits/${b.circuitId}`)).body.state, 'CLOSED');

      await s.etcd.stop();
      const t0 = Date.now();
      // During the outage: the worker serves what it knew (A, and C created just before).
      assert.equal((await request(a.appUrl, { jar: jarA })).status, 200);
      const jarC = new CookieJar();
      assert.equal((await request(cNew.setupUrl, { jar: jarC })).status, 302);
      assert.equal((await request(cNew.appUrl, { jar: jarC })).status, 200);
      // Changes asked for during the outage: recorded in SQL, projected once etcd is back.
      const delD = await c.api('DELETE', `/v1/circuits/${d.circuitId}`);
      assert.ok([200, 503].includes(delD.status), delD.text);
      const delE = await c.api('DELETE', `/v1/sessions/${sessE}`);
      assert.ok([202, 503].includes(delE.status), delE.text);
      while (Date.now() - t0 < 10_000) {
        assert.equal((await request(a.appUrl, { jar: jarA })).status, 200, 'served during the outage');
        await new Promise((r) => setTimeout(r, 500)); // the outage lasts 10 s; a request every 500 ms
      }
      await s.etcd.start();

      await until(
        async () => (await c.api('GET', `/v1/circuits/${d.circuitId}`)).body.state === 'CLOSED',
        'D closed',
        { timeoutMs: 60_000 },
      );
      await until(
        async () => (await c.api('GET', `/v1/circuits/${e.circuitId}`)).body.state === 'CLOSED',
        'E closed',
        { timeoutMs: 60_000 },
      );
      await until(
        async () => (await c.api('GET', `/v1/sessions/${sessE}`)).body.state === 'TERMINATED',
        'E terminated',
        { timeoutMs: 60_000 },
      );
      const gone = await request(d.appUrl).catch((err: Error) => err);
      assert.ok(gone instanceof Error || gone.status >= 400);
      assert.equal((await request(a.appUrl, { jar: jarA })).status, 200);
      assert.equal((await request(cNew.appUrl, { jar: jarC })).status, 200);
      await until(async () => c.leaders().length === 1, 'a leader again', { timeoutMs: 30_000 });
      await doctorClean(c);
      // Marked UNAVAILABLE while the worker's lease was gone, they come back with its next
      // registration (the health loop's next tick).
      for (const id of [a.circuitId, cNew.circuitId])
        await until(
          async () => (await c.api('GET', `/v1/circuits/${id}`)).body.state === 'ACTIVE',
          `circuit ${id} ACTIVE again`,
          { timeoutMs: 30_000 },
        );
    });
  });
}
