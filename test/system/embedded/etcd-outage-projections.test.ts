/**
 * What the manager projects into KV, across a real etcd outage: etcd hung (SIGSTOP … SIGCONT) and
 * etcd killed (kill -9 … restarted on its data), with one manager, a real worker and an agent over
 * KV (a `RemoteAgentDriver` in the manager, an `AgentHost` running the built-in demo template) on
 * real PostgreSQL + etcd + Redis. The reconciler cannot be what repairs anything here: its interval
 * is 10 min, and its pass on (re-)election leaves closing circuits and young PENDING sessions
 * alone. What lands is what the outboxes retry as soon as etcd answers:
 * - a session deleted during the outage: its circuit's address goes dark soon after etcd returns
 *   (the delay, counted from etcd's return, is printed) and the session reaches TERMINATED;
 * - a session created during the outage (201, PENDING): its desired state reaches the agent, and
 *   it runs;
 * and, apart from any outage, a PENDING session whose desired state never reached KV (its manager
 * died between the INSERT and the put) is launched again by the reconciler.
 * Skipped only with APPPROXY_SKIP_REAL_STORES=1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { LocalAgent } from '../../../src/agent/local-agent.ts';
import { AgentHost } from '../../../src/agent/remote.ts';
import { builtinTemplates } from '../../../src/agent/templates.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { RemoteAgentDriver } from '../../../src/manager/agents/remote-agent.ts';
import { CookieJar, request } from '../../support/http.ts';
import { type AllServers, skipRealStores, startAll } from '../../support/infra/servers.ts';
import { until } from '../../support/poll.ts';
import { startUpstream, type Upstream } from '../../support/upstream.ts';
import { InProcessCluster, logger, portWindow, realStores, type Stores } from './cluster.ts';
import { externalSession, open } from './suite.ts';

/** Long enough that the attempt in flight when the outage began fails (etcd's request deadline is 5 s) and is retried. */
const OUTAGE_MS = 6000;
const AGENT = 'agent-x';

let servers: AllServers | undefined;
let failure: unknown;
if (!skipRealStores) {
  try {
    servers = await startAll();
  } catch (err) {
    failure = err;
  }
}

async function dark(url: string, jar: CookieJar): Promise<boolean> {
  try {
    return (await request(url, { jar })).status >= 400;
  } catch {
    return true; // refused: the worker closed the circuit's port
  }
}

if (skipRealStores) {
  it('KV projections across an etcd outage', { skip: 'APPPROXY_SKIP_REAL_STORES=1' }, () => {});
} else if (!servers) {
  it('starts real PostgreSQL, etcd and Redis', () => {
    throw failure;
  });
} else {
  const s = servers;
  describe('KV projections across an etcd outage (real stores)', () => {
    let stores: Stores;
    let c: InProcessCluster;
    let up: Upstream;
    let driver: RemoteAgentDriver;
    let host: AgentHost;
    let dataDir: string;

    before(async () => {
      up = await startUpstream();
      stores = await realStores(s);
      dataDir = mkdtempSync(join(tmpdir(), 'appproxy-outage-agent-'));
      driver = new RemoteAgentDriver({
        kv: stores.connect(),
        name: AGENT,
        logger,
        terminateTimeoutMs: 20_000,
      });
      await driver.start();
      const local = new LocalAgent({ name: AGENT, templates: builtinTemplates(), dataDir, logger });
      host = new AgentHost({ kv: stores.connect(), agent: local, leaseTtlMs: 2000, dataDir, logger });
      await host.start();
      c = await InProcessCluster.create(stores, {
        managers: 1,
        manager: {
          agent: driver,
          reconcileIntervalMs: 600_000,
          terminatingStuckMs: 600_000,
          // PENDING sessions count as stuck (for the reconciler) only after a minute.
          routeReadyTimeoutMs: 55_000,
        },
      });
      await c.startWorker('w1', portWindow(), 2000);
      await until(
        async () => (await c.api('GET', '/v1/workers')).body.items.some((w: any) => w.healthy),
        'worker registered',
        { timeoutMs: 15_000 },
      );
      await until(() => driver.connected(), 'agent registered', { timeoutMs: 15_000 });
    });
    after(async () => {
      await s.etcd.start().catch(() => {});
      s.etcd.resume();
      await host?.close();
      await c?.close();
      await driver?.close();
      await up?.close();
      rmSync(dataDir, { recursive: true, force: true });
      await s.dispose();
    });

    const outages = [
      {
        name: 'hung (SIGSTOP … SIGCONT)',
        begin: async () => s.etcd.pause(),
        end: async () => s.etcd.resume(),
      },
      { name: 'killed (kill -9 … restart)', begin: () => s.etcd.kill(), end: () => s.etcd.start() },
    ];

    for (const outage of outages) {
      test(`etcd ${outage.name}: a session deleted meanwhile goes dark soon after etcd returns; one created meanwhile runs`, async (t) => {
        const doomed = await externalSession(c, up, 'doomed');
        const circuit = await open(c, doomed);
        const jar = new CookieJar();
        assert.equal((await request(circuit.setupUrl, { jar })).status, 302);
        assert.equal((await request(circuit.appUrl, { jar })).status, 200);

        await outage.begin();
        let back: number;
        let created: string;
        try {
          // SQL takes both requests at once; their KV parts wait for etcd.
          const del = await c.api('DELETE', `/v1/sessions/${doomed}`);
          assert.equal(del.status, 202, del.text);
          const made = await c.api('POST', '/v1/sessions', { template: 'demo' });
          assert.equal(made.status, 201, made.text);
          assert.equal(made.body.state, 'PENDING');
          created = made.body.id;
          await new Promise((r) => setTimeout(r, OUTAGE_MS));
        } finally {
          await outage.end();
          back = performance.now();
        }

        await until(() => dark(circuit.appUrl, jar), "the deleted session's address to go dark", {
          timeoutMs: 15_000,
        });
        const darkMs = performance.now() - back;
        t.diagnostic(`etcd ${outage.name}: terminate → dark ${darkMs.toFixed(0)} ms after etcd returned`);
        await until(
          async () => (await c.api('GET', `/v1/sessions/${doomed}`)).body.state === 'TERMINATED',
          'the deleted session TERMINATED',
          { timeoutMs: 30_000 },
        );
        assert.equal((await c.api('GET', `/v1/circuits/${circuit.circuitId}`)).body.state, 'CLOSED');

        await until(
          async () => (await c.api('GET', `/v1/sessions/${created}`)).body.state === 'RUNNING',
          'the session created during the outage RUNNING',
          { timeoutMs: 30_000 },
        );
        t.diagnostic(
          `etcd ${outage.name}: the session accepted during the outage ran ${(performance.now() - back).toFixed(0)} ms after etcd returned`,
        );
        const end = await c.api('DELETE', `/v1/sessions/${created}?wait=true`);
        assert.equal(end.body.state, 'TERMINATED', end.text);
      });
    }

    test('a PENDING session whose desired state never reached KV is launched again by the reconciler', async () => {
      // As if its manager died between the INSERT and the put: the launch never happens.
      const launch = driver.launch.bind(driver);
      driver.launch = async () => {};
      let id: string;
      try {
        const made = await c.api('POST', '/v1/sessions', { template: 'demo' });
        assert.equal(made.status, 201, made.text);
        id = made.body.id;
      } finally {
        driver.launch = launch;
      }
      await stores.sql.query(`UPDATE sessions SET updated_at = now() - interval '1 hour' WHERE id = $1`, [
        id,
      ]);
      assert.equal(await stores.kv.get(kvKeys.agentSession(AGENT, id)), undefined);
      const repairs = await c.nodes[0]!.manager.reconcile();
      assert.deepEqual(
        repairs.filter((r) => r.kind === 'session-launch-missing'),
        [{ kind: 'session-launch-missing', subject: `session/${id}` }],
      );
      await until(
        async () => (await c.api('GET', `/v1/sessions/${id}`)).body.state === 'RUNNING',
        'the relaunched session RUNNING',
        { timeoutMs: 30_000 },
      );
      const end = await c.api('DELETE', `/v1/sessions/${id}?wait=true`);
      assert.equal(end.body.state, 'TERMINATED', end.text);
    });
  });
}
