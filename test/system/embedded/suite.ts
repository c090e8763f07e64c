/**
 * The distributed scenarios, run on embedded stores (`embedded-stores.test.ts`) and on real PostgreSQL +
 * etcd + Redis (`real-stores.test.ts`). Two managers over the same stores (requests alternate between them),
 * real workers, a real upstream app. Killing is "kill -9"-like: the component's KV connection dies without
 * revoking its leases, which expire one TTL later (see cluster.ts). TTLs are 2 s here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { CookieJar, request } from '../../support/http.ts';
import { until } from '../../support/poll.ts';
import { startUpstream, type Upstream } from '../../support/upstream.ts';
import { InProcessCluster, inject, portWindow, type Stores } from './cluster.ts';

const TTL = 2000;

export async function externalSession(c: InProcessCluster, up: Upstream, name: string): Promise<string> {
  const r = await c.api('POST', '/v1/sessions', {
    name,
    external: { services: [{ name: 'web', protocol: 'http', host: '127.0.0.1', port: up.port }] },
  });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

export async function open(
  c: InProcessCluster,
  sessionId: string,
): Promise<{ circuitId: string; setupUrl: string; appUrl: string }> {
  const r = await c.api('POST', `/v1/sessions/${sessionId}/start-service`, { service: 'web' });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** Follows the setup URL like a browser and fetches the app: true when the app answered through the worker. */
export async function serves(setupUrl: string, appUrl: string): Promise<boolean> {
  const jar = new CookieJar();
  const s = await request(setupUrl, { jar });
  if (s.status !== 302) return false;
  const r = await request(appUrl, { jar });
  return r.status === 200 && r.text.includes('hello from /');
}

export async function doctorClean(c: InProcessCluster): Promise<void> {
  const r = await until(
    async () => {
      const d = await c.api('GET', '/v1/doctor');
      assert.equal(d.status, 200, d.text);
      return d.body.violations.length === 0 ? d.body : undefined;
    },
    'doctor to report no violations',
    { timeoutMs: 20_000 },
  ).catch(async (err) => {
    const d = await c.api('GET', '/v1/doctor');
    throw new Error(`${(err as Error).message}: ${JSON.stringify(d.body.violations)}`);
  });
  assert.deepEqual(r.violations, []);
}

export function clusterSuite(label: string, makeStores: () => Promise<Stores>): void {
  describe(`distributed control plane (${label})`, () => {
    let c: InProcessCluster;
    let up: Upstream;
    const w1Ports = portWindow();
    const w2Ports = portWindow();

    before(async () => {
      up = await startUpstream();
      c = await InProcessCluster.create(await makeStores(), { managers: 2, leaderTtlMs: TTL });
      await c.startWorker('w1', w1Ports, TTL);
      await c.startWorker('w2', w2Ports, TTL);
      await until(
        async () => (await c.api('GET', '/v1/workers')).body.items.filter((w: any) => w.healthy).length === 2,
        'workers registered',
        { timeoutMs: 15_000 },
      );
    });
    after(async () => {
      await c.close();
      await up.close();
    });

    test('exactly one leader, known to every manager (readyz, metrics)', async () => {
      const leader = await until(
        () => (c.leaders().length === 1 ? c.leaders()[0] : undefined),
        'one leader',
        { timeoutMs: 15_000 },
      );
      for (const n of c.nodes) {
        const r = await n.manager.app.inject({ method: 'GET', url: '/readyz' });
        const body = JSON.parse(r.body);
        assert.equal(body.leader.id, leader.manager.id);
        assert.equal(body.leader.self, n === leader);
        const m = await n.registry.metrics();
        assert.match(
          m,
          new RegExp(`appproxy_manager_leader\\{manager="${n.manager.id}"\\} ${n === leader ? 1 : 0}`),
        );
      }
    });

    test('worker drain: no new circuits there, existing ones keep running; undrain', async () => {
      const s = await externalSession(c, up, 'drain-test');
      const first = await open(c, s);
      const before = (await c.api('GET', `/v1/circuits/${first.circuitId}`)).body;
      const drained = await c.api('POST', `/v1/workers/${before.worker}/drain`);
      assert.equal(drained.status, 200, drained.text);
      assert.equal(drained.body.draining, true);
      const list = await c.api('GET', '/v1/workers');
      assert.equal(list.body.items.find((w: any) => w.authority === before.worker).draining, true);
      // New circuits avoid the draining worker (asked of both managers).
      for (let i = 0; i < 2; i++) {
        const other = await open(c, await externalSession(c, up, `drain-other-${i}`));
        const row = (await c.api('GET', `/v1/circuits/${other.circuitId}`)).body;
        assert.notEqual(row.worker, before.worker);
      }
      // The existing circuit still serves.
      assert.equal((await c.api('GET', `/v1/circuits/${first.circuitId}`)).body.state, 'ACTIVE');
      assert.ok(await serves((await open(c, s)).setupUrl, first.appUrl));
      const und = await c.api('POST', `/v1/workers/${before.worker}/undrain`);
      assert.equal(und.body.draining, false);
      assert.equal((await c.api('POST', '/v1/workers/nope/drain')).status, 404);
      await doctorClean(c);
    });

    test('kill -9 a worker: excluded at once, circuits UNAVAILABLE with the reason; restart: ACTIVE and serving', async () => {
      const s = await externalSession(c, up, 'worker-death');
      // Open circuits until one lands on w1.
      let onW1: { circuitId: string; setupUrl: string; appUrl: string } | undefined;
      for (let i = 0; i < 4 && !onW1; i++) {
        const o = await open(c, await externalSession(c, up, `wd-${i}`));
        if ((await c.api('GET', `/v1/circuits/${o.circuitId}`)).body.worker === 'w1') onW1 = o;
      }
      assert.ok(onW1, 'a circuit on w1');
      assert.ok(await serves(onW1.setupUrl, onW1.appUrl));

      const t0 = Date.now();
      await c.killWorker('w1');
      // Allocation avoids it as soon as its registration is gone (lease TTL).
      await until(
        async () => {
          const w = (await c.api('GET', '/v1/workers')).body.items.find((x: any) => x.authority === 'w1');
          return w && !w.healthy;
        },
        'w1 unregistered on the managers',
        { timeoutMs: 15_000 },
      );
      const excludedAfter = Date.now() - t0;
      for (let i = 0; i < 3; i++) {
        const o = await open(c, s);
        assert.equal((await c.api('GET', `/v1/circuits/${o.circuitId}`)).body.worker, 'w2');
        await c.api('DELETE', `/v1/circuits/${o.circuitId}`);
      }
      // Its circuits become UNAVAILABLE with the reason, within the grace (= its lease TTL) + a tick.
      const unavailable = await until(
        async () => {
          const r = await c.api('GET', `/v1/circuits/${onW1!.circuitId}`);
          return r.body.state === 'UNAVAILABLE' ? r.body : undefined;
        },
        'circuit UNAVAILABLE',
        { timeoutMs: 15_000 },
      );
      const unavailableAfter = Date.now() - t0;
      assert.match(unavailable.stateReason, /^worker w1 stopped answering at \d{4}-\d\d-\d\dT/);
      assert.ok(unavailableAfter < 3 * TTL + 2000, `UNAVAILABLE after ${unavailableAfter} ms`);
      await doctorClean(c);
      const listed = (await c.api('GET', '/v1/circuits?state=UNAVAILABLE')).body.items.map((x: any) => x.id);
      assert.ok(listed.includes(onW1.circuitId));

      // Restart with the same authority: it resumes its circuits from KV on its own.
      const t1 = Date.now();
      await c.startWorker('w1', w1Ports, TTL);
      await until(
        async () => (await c.api('GET', `/v1/circuits/${onW1!.circuitId}`)).body.state === 'ACTIVE',
        'circuit ACTIVE again',
        { timeoutMs: 15_000 },
      );
      const activeAfter = Date.now() - t1;
      const again = (await c.api('GET', `/v1/circuits/${onW1.circuitId}`)).body;
      assert.equal(again.stateReason, null);
      // start-service reuses it and the app serves through the restarted worker.
      const reopened = await open(c, again.sessionId);
      assert.equal(reopened.circuitId, onW1.circuitId);
      assert.ok(await serves(reopened.setupUrl, reopened.appUrl));
      await doctorClean(c);
      process.stderr.write(
        `# worker death: excluded after ${excludedAfter} ms, UNAVAILABLE after ${unavailableAfter} ms, ACTIVE ${activeAfter} ms after restart (TTL ${TTL} ms)\n`,
      );
    });

    test('closing an UNAVAILABLE circuit does not wait for the dead worker', async () => {
      const o = await open(c, await externalSession(c, up, 'close-unavailable'));
      const worker = (await c.api('GET', `/v1/circuits/${o.circuitId}`)).body.worker as string;
      const ports = worker === 'w1' ? w1Ports : w2Ports;
      await c.killWorker(worker);
      await until(
        async () => (await c.api('GET', `/v1/circuits/${o.circuitId}`)).body.state === 'UNAVAILABLE',
        'UNAVAILABLE',
        { timeoutMs: 15_000 },
      );
      const t = Date.now();
      const del = await c.api('DELETE', `/v1/circuits/${o.circuitId}`);
      assert.equal(del.status, 200, del.text);
      assert.equal(del.body.state, 'CLOSED');
      assert.ok(Date.now() - t < 1500, `close took ${Date.now() - t} ms`);
      assert.equal(await c.stores.kv.get(kvKeys.circuit(worker, o.circuitId)), undefined);
      await c.startWorker(worker, ports, TTL);
      await doctorClean(c);
    });

    test('kill -9 the leader: the other leads within two TTLs, runs the loops, no circuit lost', async () => {
      const leader = await until(
        () => (c.leaders().length === 1 ? c.leaders()[0] : undefined),
        'one leader',
        { timeoutMs: 15_000 },
      );
      const follower = c.nodes.find((n) => n !== leader && !n.kv.killed)!;
      const o = await open(c, await externalSession(c, up, 'leader-death'));
      await until(
        async () => (await c.api('GET', '/v1/circuits?state=UNAVAILABLE')).body.items.length === 0,
        'no UNAVAILABLE circuit',
        { timeoutMs: 15_000 },
      );
      const circuitsBefore = (await c.api('GET', '/v1/circuits?state=ACTIVE')).body.items
        .map((x: any) => x.id)
        .sort();
      // Damage the projection; only a leader's reconciler repairs it (on takeover it runs at once).
      const row = (await c.api('GET', `/v1/circuits/${o.circuitId}`)).body;
      await c.stores.kv.delete(kvKeys.circuit(row.worker, o.circuitId));

      const t0 = Date.now();
      await c.killManager(leader);
      await until(() => follower.manager.isLeader(), 'the follower to lead', { timeoutMs: 4 * TTL });
      const takeover = Date.now() - t0;
      assert.ok(takeover <= 2 * TTL, `takeover took ${takeover} ms (TTL ${TTL} ms)`);
      // The loops run there: the reconciler rebuilt the route.
      await until(
        async () => (await c.stores.kv.get(kvKeys.circuit(row.worker, o.circuitId))) !== undefined,
        'route rebuilt',
        { timeoutMs: 15_000 },
      );
      // The repair is counted once the put is confirmed (a re-check after it), so a moment later.
      await until(
        async () =>
          /appproxy_manager_reconcile_repairs_total\{kind="route-missing"\} [1-9]/.test(
            await follower.registry.metrics(),
          ),
        'the repair counted',
        { timeoutMs: 15_000 },
      );
      // No circuit lost.
      const circuitsAfter = (await inject(follower.manager, 'GET', '/v1/circuits?state=ACTIVE')).body.items
        .map((x: any) => x.id)
        .sort();
      assert.deepEqual(circuitsAfter, circuitsBefore);
      const reopened = await open(c, row.sessionId);
      assert.ok(await serves(reopened.setupUrl, reopened.appUrl));
      await doctorClean(c);
      // A new manager joins as a follower.
      const third = await c.addManager();
      assert.equal(third.manager.isLeader(), false);
      assert.equal(third.manager.leaderId(), follower.manager.id);
      process.stderr.write(`# leader death: takeover after ${takeover} ms (TTL ${TTL} ms)\n`);
    });

    test('a manager that stops cleanly hands over at once', async () => {
      const leader = await until(
        () => (c.leaders().length === 1 ? c.leaders()[0] : undefined),
        'one leader',
        { timeoutMs: 15_000 },
      );
      const t0 = Date.now();
      await leader.manager.close();
      leader.kv.kill();
      await until(() => c.leaders().length === 1, 'a new leader', {
        timeoutMs: 4 * TTL,
      });
      assert.ok(Date.now() - t0 < TTL, `handover took ${Date.now() - t0} ms`);
    });
  });
}
