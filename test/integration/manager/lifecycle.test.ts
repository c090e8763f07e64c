import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { FakeAgent } from '../../support/fake-agent.ts';
import { until } from '../../support/poll.ts';
import { assertEnvelope, ManagerHarness } from './harness.ts';

async function openCircuits(h: ManagerHarness, sessionId: string, services: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const service of services) {
    const r = await h.api('POST', `/v1/sessions/${sessionId}/start-service`, { service });
    assert.equal(r.status, 200, r.text);
    ids.push(r.body.circuitId);
  }
  return ids;
}

/** Route specs of a session still in KV (all workers). */
async function routesInKv(h: ManagerHarness, sessionId: string): Promise<string[]> {
  const { entries } = await h.kv.getPrefix('/appproxy/v1/workers/');
  return entries
    .filter((e) => e.key.includes('/circuits/'))
    .map((e) => JSON.parse(e.value) as CircuitSpec)
    .filter((s) => s.sessionId === sessionId)
    .map((s) => s.id);
}

async function readyKeys(h: ManagerHarness): Promise<string[]> {
  const { entries } = await h.kv.getPrefix('/appproxy/v1/workers/');
  return entries.filter((e) => e.key.includes('/ready/')).map((e) => e.key);
}

describe('lifecycle sync', () => {
  test('DELETE: TERMINATING at once, circuits CLOSING→CLOSED, routes gone before agent.terminate, TERMINATED', async () => {
    const h = await ManagerHarness.create();
    try {
      // A worker that takes a moment to cut connections, so CLOSING is observable.
      h.workers[0]!.closeDelayMs = 150;
      const s = await h.runningSession('shell');
      const ids = await openCircuits(h, s.id, ['http', 'ssh']);
      h.agent.observeOnTerminate = (sessionId) => ({
        workerRoutes: [...h.workers[0]!.routes.values()].filter((r) => r.sessionId === sessionId).length,
        kvRoutes: routesInKv(h, sessionId),
        ready: readyKeys(h),
      });

      const del = await h.api('DELETE', `/v1/sessions/${s.id}`);
      assert.equal(del.status, 202);
      assert.equal(del.body.state, 'TERMINATING');
      assert.match(del.body.stateReason, /on request of admin/);
      const closing = await h.api('GET', `/v1/circuits/${ids[0]}`);
      assert.equal(closing.body.state, 'CLOSING');
      assert.equal(h.agent.terminated.length, 0, 'processes must not stop while routes exist');

      await h.sessionIn(s.id, 'TERMINATED');
      for (const id of ids) {
        const c = await h.api('GET', `/v1/circuits/${id}`);
        assert.equal(c.body.state, 'CLOSED');
        assert.ok(c.body.closedAt);
      }
      assert.equal(h.agent.terminated.length, 1);
      const obs = h.agent.terminated[0]!.observed as {
        workerRoutes: number;
        kvRoutes: Promise<string[]>;
        ready: Promise<string[]>;
      };
      assert.equal(obs.workerRoutes, 0);
      assert.deepEqual(await obs.kvRoutes, []);
      assert.deepEqual(await obs.ready, []);
      // Route events: each added route was removed, and every removal precedes the terminate call.
      const removed = h.workers[0]!.events.filter((e) => e.type === 'route-removed');
      assert.deepEqual(removed.map((e) => e.circuitId).sort(), [...ids].sort());
      assert.ok(removed.every((e) => e.at <= h.agent.terminated[0]!.at));
      // The slots are free again.
      const { rows } = await h.sql.query(`SELECT 1 FROM circuits WHERE state <> 'CLOSED'`);
      assert.equal(rows.length, 0);
    } finally {
      await h.close();
    }
  });

  test('DELETE twice is harmless; concurrent DELETEs run one flow; ?wait=true answers 200 when final', async () => {
    const h = await ManagerHarness.create();
    try {
      const s = await h.runningSession();
      await openCircuits(h, s.id, ['http']);
      const [a, b, c] = await Promise.all([
        h.api('DELETE', `/v1/sessions/${s.id}?wait=true`),
        h.api('DELETE', `/v1/sessions/${s.id}`),
        h.api('DELETE', `/v1/sessions/${s.id}?wait=true`),
      ]);
      assert.equal(a.status, 200, a.text);
      assert.equal(a.body.state, 'TERMINATED');
      assert.ok([200, 202].includes(b.status));
      assert.equal(c.body.state, 'TERMINATED');
      assert.equal(h.agent.terminated.length, 1, 'one flow, one terminate');
      const again = await h.api('DELETE', `/v1/sessions/${s.id}`);
      assert.equal(again.status, 200);
      assert.equal(again.body.state, 'TERMINATED');
      assert.equal(h.agent.terminated.length, 1);
      assertEnvelope(
        await h.api('POST', `/v1/sessions/${s.id}/start-service`, { service: 'http' }),
        409,
        'AP_ERR_SESSION_NOT_RUNNING',
      );
    } finally {
      await h.close();
    }
  });

  test('agent reports ERROR → session ERROR with the reason, its circuits closed and routes gone', async () => {
    const h = await ManagerHarness.create();
    try {
      const s = await h.runningSession('shell');
      const ids = await openCircuits(h, s.id, ['http', 'ssh']);
      h.agent.report({ sessionId: s.id, state: 'ERROR', reason: 'jupyter exited with code 1' });
      await until(
        async () => {
          const states = await Promise.all(ids.map((id) => h.circuitState(id)));
          return states.every((x) => x === 'CLOSED');
        },
        'every circuit to be CLOSED',
        { timeoutMs: 5000 },
      );
      const got = await h.api('GET', `/v1/sessions/${s.id}`);
      assert.equal(got.body.state, 'ERROR');
      assert.equal(got.body.stateReason, 'jupyter exited with code 1');
      assert.deepEqual(await routesInKv(h, s.id), []);
      // Deleting an ERROR session is harmless and keeps ERROR.
      const del = await h.api('DELETE', `/v1/sessions/${s.id}`);
      assert.equal(del.status, 200);
      assert.equal(del.body.state, 'ERROR');
    } finally {
      await h.close();
    }
  });

  test('a session that stops on its own (TERMINATED report) takes the same path', async () => {
    const h = await ManagerHarness.create();
    try {
      const s = await h.runningSession();
      const [id] = await openCircuits(h, s.id, ['http']);
      h.agent.report({ sessionId: s.id, state: 'TERMINATED', reason: 'exited with code 0' });
      await h.sessionIn(s.id, 'TERMINATED');
      assert.equal(await h.circuitState(id!), 'CLOSED');
      assert.equal((await h.api('GET', `/v1/sessions/${s.id}`)).body.stateReason, 'exited with code 0');
      assert.deepEqual(await routesInKv(h, s.id), []);
    } finally {
      await h.close();
    }
  });

  test('launch failure → ERROR', async () => {
    const agent = new FakeAgent();
    agent.failLaunchWith = 'no GPU';
    const h = await ManagerHarness.create({ agent });
    try {
      const r = await h.api('POST', '/v1/sessions', { template: 'web' });
      const s = await h.sessionIn(r.body.id, 'ERROR');
      assert.equal(s.stateReason, 'no GPU');
    } finally {
      await h.close();
    }
  });

  test('a worker that never confirms a close does not block it beyond circuitCloseTimeoutMs', async () => {
    const h = await ManagerHarness.create({ manager: { circuitCloseTimeoutMs: 200 } });
    try {
      const s = await h.runningSession();
      const [id] = await openCircuits(h, s.id, ['http']);
      h.workers[0]!.hangOnClose = true;
      const t0 = Date.now();
      const res = await h.api('DELETE', `/v1/circuits/${id}`);
      assert.equal(res.body.state, 'CLOSED');
      assert.ok(Date.now() - t0 >= 180);
      assert.equal(await h.kv.get(kvKeys.circuit('w1', id!)), undefined);
    } finally {
      await h.close();
    }
  });

  test('restart recovery: vanished sessions terminate, CLOSING circuits close, stale PENDING circuits close', async () => {
    const first = await ManagerHarness.create();
    const gone = await first.runningSession();
    const kept = await first.runningSession();
    const [goneCircuit] = await openCircuits(first, gone.id, ['http']);
    const [keptCircuit] = await openCircuits(first, kept.id, ['http']);
    // Simulate a crash in the middle of a close and of an allocation.
    const k2 = await first.runningSession();
    const [k2Circuit] = await openCircuits(first, k2.id, ['http']);
    await first.sql.query(
      `UPDATE circuits SET state = 'CLOSING', state_reason = 'closing when it crashed' WHERE id = $1`,
      [k2Circuit],
    );
    await first.sql.query(
      `INSERT INTO circuits (id, session_id, service, protocol, owner_id, worker, frontend_mode, port, app_url, backends, state, created_at)
       VALUES ('stale', $1, 'http', 'http', 'admin', 'w1', 'port', 20099, 'http://x/', '[]', 'PENDING', now() - interval '1 hour')`,
      [kept.id],
    );
    await first.stopManager();

    // The agent restarted too and only runs `kept` and `k2`.
    const agent = new FakeAgent(undefined, { name: 'fake-agent', running: [kept.id, k2.id] });
    const second = await ManagerHarness.create({
      sql: first.sql,
      kv: first.kv,
      counters: first.counters,
      agent,
      workers: [],
    });
    try {
      assert.equal((await second.api('GET', `/v1/sessions/${gone.id}`)).body.state, 'TERMINATED');
      assert.match((await second.api('GET', `/v1/sessions/${gone.id}`)).body.stateReason, /no longer runs/);
      assert.equal(await second.circuitState(goneCircuit!), 'CLOSED');
      assert.equal((await second.api('GET', `/v1/sessions/${kept.id}`)).body.state, 'RUNNING');
      assert.equal(await second.circuitState(keptCircuit!), 'ACTIVE');
      assert.equal(await second.circuitState(k2Circuit!), 'CLOSED');
      assert.equal(
        (await second.api('GET', `/v1/circuits/${k2Circuit}`)).body.stateReason,
        'closing when it crashed',
      );
      assert.equal(await second.circuitState('stale'), 'CLOSED');
      assert.deepEqual(await routesInKv(second, gone.id), []);
      assert.deepEqual(await routesInKv(second, k2.id), []);
      assert.deepEqual(await routesInKv(second, kept.id), [keptCircuit]);
      assert.deepEqual(
        agent.terminated.map((t) => t.sessionId),
        [gone.id],
      );
    } finally {
      await second.close({ keepStores: true });
      await first.close();
    }
  });
});
