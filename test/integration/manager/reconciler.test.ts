/**
 * The reconciler repairs what `doctor` finds: each test injects one violation into SQL or KV,
 * checks that `GET /v1/doctor` (and the CLI `appproxy doctor`, exit 1) reports it, runs a
 * reconcile pass and checks that doctor is clean again. A manager over embedded stores with fake
 * workers that speak the KV protocol.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { runCli } from '../../support/cli.ts';
import { until } from '../../support/poll.ts';
import { ADMIN_TOKEN, ManagerHarness } from './harness.ts';

async function violations(h: ManagerHarness): Promise<{ kind: string; subject: string; detail: string }[]> {
  const r = await h.api('GET', '/v1/doctor');
  assert.equal(r.status, 200, r.text);
  assert.ok(!Number.isNaN(Date.parse(r.body.checkedAt)));
  return r.body.violations;
}

async function openCircuit(h: ManagerHarness): Promise<{ id: string; worker: string; sessionId: string }> {
  const s = await h.runningSession();
  const r = await h.api('POST', `/v1/sessions/${s.id}/start-service`, { service: 'http' });
  assert.equal(r.status, 200, r.text);
  const c = await h.api('GET', `/v1/circuits/${r.body.circuitId}`);
  return { id: c.body.id, worker: c.body.worker, sessionId: s.id };
}

describe('reconciler and doctor', () => {
  let h: ManagerHarness;
  let url: string;
  before(async () => {
    h = await ManagerHarness.create({
      workers: [{ authority: 'w1' }, { authority: 'w2' }],
      // Passes run when the test says so (the loop's first pass runs at start, on an empty system).
      manager: { reconcileIntervalMs: 3_600_000 },
    });
    await h.manager.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(h.manager.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await h.close();
  });

  const cli = (args: string[]) => runCli(args, { env: { APPPROXY_URL: url, APPPROXY_TOKEN: ADMIN_TOKEN } });

  test('a consistent system: no violations; `appproxy doctor` exits 0', async () => {
    await openCircuit(h);
    assert.deepEqual(await violations(h), []);
    const r = await cli(['doctor']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no violations/);
  });

  test('a deleted KV route is rebuilt (route-missing)', async () => {
    const c = await openCircuit(h);
    await h.kv.delete(kvKeys.circuit(c.worker, c.id));
    const v = await violations(h);
    assert.deepEqual(
      v.map((x) => [x.kind, x.subject]),
      [['route-missing', `circuit/${c.id}`]],
    );
    const r = await cli(['doctor']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /route-missing/);
    assert.match(r.stdout, new RegExp(`circuit/${c.id}`));
    assert.match(r.stderr, /1 invariant violation found/);
    const repairs = await h.manager.reconcile();
    assert.deepEqual(repairs, [{ kind: 'route-missing', subject: `circuit/${c.id}` }]);
    assert.ok(await h.kv.get(kvKeys.circuit(c.worker, c.id)));
    await until(async () => (await violations(h)).length === 0, 'doctor clean', {
      timeoutMs: 10_000,
    });
    assert.match(
      await h.registry.metrics(),
      /appproxy_manager_reconcile_repairs_total\{kind="route-missing"\} 1/,
    );
  });

  test('a stale KV route is rewritten (route-stale)', async () => {
    const c = await openCircuit(h);
    const key = kvKeys.circuit(c.worker, c.id);
    const spec = JSON.parse((await h.kv.get(key))!.value) as CircuitSpec;
    await h.kv.put(key, JSON.stringify({ ...spec, backends: [{ host: '10.0.0.1', port: 1 }] }));
    assert.deepEqual(
      (await violations(h)).map((x) => x.kind),
      ['route-stale'],
    );
    const repairs = await h.manager.reconcile();
    assert.deepEqual(
      repairs.map((r) => r.kind),
      ['route-stale'],
    );
    assert.deepEqual(JSON.parse((await h.kv.get(key))!.value), spec);
    assert.deepEqual(await violations(h), []);
  });

  test('a stray KV route is deleted (route-orphan)', async () => {
    const stray: CircuitSpec = {
      id: 'stray-1',
      sessionId: 'nope',
      ownerId: 'admin',
      service: 'x',
      protocol: 'http',
      frontendMode: 'port',
      port: 20098,
      subdomain: null,
      backends: [{ host: '127.0.0.1', port: 9 }],
    };
    await h.kv.put(kvKeys.circuit('w1', 'stray-1'), JSON.stringify(stray));
    await until(
      async () => (await h.kv.get(kvKeys.ready('w1', 'stray-1'))) ?? undefined,
      'fake worker serving the stray',
      { timeoutMs: 5000 },
    );
    const v = await violations(h);
    assert.deepEqual(
      v.map((x) => [x.kind, x.subject]),
      [['route-orphan', 'route/w1/stray-1']],
    );
    const repairs = await h.manager.reconcile();
    assert.deepEqual(repairs, [{ kind: 'route-orphan', subject: 'route/w1/stray-1' }]);
    assert.equal(await h.kv.get(kvKeys.circuit('w1', 'stray-1')), undefined);
    await until(async () => (await violations(h)).length === 0, 'doctor clean', {
      timeoutMs: 10_000,
    });
  });

  test('a live circuit of a terminated session is closed (session-final)', async () => {
    const c = await openCircuit(h);
    await h.sql.query(`UPDATE sessions SET state = 'TERMINATED' WHERE id = $1`, [c.sessionId]);
    assert.deepEqual(
      (await violations(h)).map((x) => [x.kind, x.subject]),
      [['session-final', `circuit/${c.id}`]],
    );
    const repairs = await h.manager.reconcile();
    assert.deepEqual(repairs, [{ kind: 'session-final', subject: `circuit/${c.id}` }]);
    assert.equal(await h.circuitState(c.id), 'CLOSED');
    assert.equal(await h.kv.get(kvKeys.circuit(c.worker, c.id)), undefined);
    await until(async () => (await violations(h)).length === 0, 'doctor clean', {
      timeoutMs: 10_000,
    });
  });

  test('a CLOSING circuit whose close died is finished; a stale PENDING one frees its slot', async () => {
    const a = await openCircuit(h);
    const b = await openCircuit(h);
    await h.sql.query(
      `UPDATE circuits SET state = 'CLOSING', updated_at = now() - interval '1 hour' WHERE id = $1`,
      [a.id],
    );
    await h.sql.query(
      `UPDATE circuits SET state = 'PENDING', created_at = now() - interval '1 hour' WHERE id = $1`,
      [b.id],
    );
    const kinds = (await violations(h)).map((x) => x.kind).sort();
    assert.deepEqual(kinds, ['closing-stuck', 'pending-stuck', 'route-orphan']);
    const repairs = (await h.manager.reconcile()).map((r) => r.kind).sort();
    assert.deepEqual(repairs, ['closing-stuck', 'pending-stuck']);
    assert.equal(await h.circuitState(a.id), 'CLOSED');
    assert.equal(await h.circuitState(b.id), 'CLOSED');
    await until(async () => (await violations(h)).length === 0, 'doctor clean', {
      timeoutMs: 10_000,
    });
  });

  test('an ACTIVE circuit without a readiness mark is reported (readiness-missing)', async () => {
    const c = await openCircuit(h);
    const w = h.workers.find((x) => x.authority === c.worker)!;
    await h.kv.delete(kvKeys.ready(c.worker, c.id));
    const v = await violations(h);
    assert.deepEqual(
      v.map((x) => [x.kind, x.subject]),
      [['readiness-missing', `circuit/${c.id}`]],
    );
    // The worker answers again when its route is re-put (what a restarted worker does on its own).
    await h.kv.put(kvKeys.circuit(c.worker, c.id), JSON.stringify(w.routes.get(c.id)));
    await until(async () => (await violations(h)).length === 0, 'doctor clean', {
      timeoutMs: 10_000,
    });
  });

  test('CLI: `worker drain` / `undrain`, and `worker list` shows the flag', async () => {
    const d = await cli(['worker', 'drain', 'w1']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'worker w1 is draining\n');
    const l = await cli(['worker', 'list']);
    assert.match(l.stdout, /DRAINING/);
    assert.match(l.stdout, /^w1 .* yes +\d+ /m);
    const u = await cli(['worker', 'undrain', 'w1']);
    assert.equal(u.stdout, 'worker w1 accepts new circuits\n');
    assert.doesNotMatch((await cli(['worker', 'list'])).stdout, /DRAINING/);
    const missing = await cli(['worker', 'drain', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /AP_ERR_NOT_FOUND/);
  });
});
