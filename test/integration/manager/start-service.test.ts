import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Value } from 'typebox/value';
import type { CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys, type SetupTokenKeySet } from '../../../src/contracts/kv-layout.ts';
import { SetupTokenVerifier } from '../../../src/core/setup-token.ts';
import {
  CircuitActivitySchema,
  CircuitSchema,
  StartServiceResultSchema,
} from '../../../src/manager/schemas.ts';
import { until } from '../../support/poll.ts';
import { assertEnvelope, ManagerHarness } from './harness.ts';

async function start(
  h: ManagerHarness,
  sessionId: string,
  body: Record<string, unknown> = { service: 'http' },
) {
  return h.api('POST', `/v1/sessions/${sessionId}/start-service`, body);
}

describe('start-service', () => {
  test('opens a circuit: route in KV before the answer, ACTIVE, setup token verifies for that circuit only', async () => {
    const h = await ManagerHarness.create({ manager: { setupTokenTtlMs: 120_000 } });
    try {
      const s = await h.runningSession();
      const res = await start(h, s.id, { service: 'http', next: '/lab/tree?x=1' });
      assert.equal(res.status, 200, res.text);
      assert.ok(Value.Check(StartServiceResultSchema, res.body));
      const { circuitId, appUrl, setupUrl, expiresAt, reused } = res.body;
      assert.equal(reused, false);
      assert.equal(appUrl, 'http://127.0.0.1:20000/');
      const u = new URL(setupUrl!);
      assert.equal(`${u.origin}/`, appUrl);
      assert.equal(u.pathname, '/_appproxy/setup');
      assert.equal(u.searchParams.get('next'), '/lab/tree?x=1');

      // The worker had the route (and said ready) before we got the URL.
      assert.ok(h.workers[0]!.routes.has(circuitId));
      const spec = JSON.parse((await h.kv.get(kvKeys.circuit('w1', circuitId)))!.value) as CircuitSpec;
      assert.deepEqual(
        { ...spec, backends: spec.backends.length },
        {
          id: circuitId,
          sessionId: s.id,
          ownerId: 'admin',
          service: 'http',
          protocol: 'http',
          frontendMode: 'port',
          port: 20000,
          subdomain: null,
          backends: 1,
          // Connection idle timeout (WebSocket here): the configured default.
          idleTimeoutMs: 30 * 60_000,
        },
      );
      assert.deepEqual(spec.backends, [s.services[0]!.backend]);

      const c = await h.api('GET', `/v1/circuits/${circuitId}`);
      assert.ok(Value.Check(CircuitSchema, c.body), JSON.stringify(c.body));
      assert.equal(c.body.state, 'ACTIVE');
      assert.deepEqual(c.body.slot, { port: 20000 });

      // Token: published keys verify it, for this circuit only; lifetime capped at 60 s.
      const keys = JSON.parse((await h.kv.get(kvKeys.setupTokenKeys()))!.value) as SetupTokenKeySet;
      const verifier = new SetupTokenVerifier(keys);
      const token = u.searchParams.get('token')!;
      const claims = await verifier.verify(token, circuitId);
      assert.equal(claims.userId, 'admin');
      assert.ok(claims.expiresAt - Date.now() <= 60_000 + 1000);
      assert.equal(new Date(expiresAt!).getTime(), claims.expiresAt);
      await assert.rejects(verifier.verify(token, 'another-circuit'), { code: 'AP_ERR_SETUP_TOKEN_INVALID' });

      const act = await h.api('GET', `/v1/circuits/${circuitId}/activity`);
      assert.equal(act.status, 200);
      assert.ok(Value.Check(CircuitActivitySchema, act.body));
      assert.equal(act.body.policy, null);
    } finally {
      await h.close();
    }
  });

  test('reuses a live circuit with a fresh token; another mode or service gets its own', async () => {
    const h = await ManagerHarness.create({
      workers: [{ authority: 'p1' }, { authority: 'wc', frontendMode: 'wildcard' }],
    });
    try {
      const s = await h.runningSession('shell');
      const a = await start(h, s.id);
      const b = await start(h, s.id);
      assert.equal(b.status, 200);
      assert.equal(b.body.reused, true);
      assert.equal(b.body.circuitId, a.body.circuitId);
      assert.notEqual(
        new URL(b.body.setupUrl).searchParams.get('token'),
        new URL(a.body.setupUrl).searchParams.get('token'),
      );
      const explicitPort = await start(h, s.id, { service: 'http', frontend: 'port' });
      assert.equal(explicitPort.body.circuitId, a.body.circuitId);

      const w = await start(h, s.id, { service: 'http', frontend: 'wildcard' });
      assert.equal(w.status, 200, w.text);
      assert.equal(w.body.reused, false);
      assert.match(w.body.appUrl, /^http:\/\/[0-9a-f]{6}\.apps\.example\.test\/$/);

      const tcp = await start(h, s.id, { service: 'ssh' });
      assert.equal(tcp.status, 200);
      assert.equal(tcp.body.appUrl, 'http://127.0.0.1:20001/');
      // TCP is port mode only: asking for wildcard is a request error, not a missing worker.
      assertEnvelope(
        await start(h, s.id, { service: 'ssh', frontend: 'wildcard' }),
        400,
        'AP_ERR_VALIDATION',
      );

      // Without a mode any live circuit of the service is reused; closed ones never are.
      await h.api('DELETE', `/v1/circuits/${a.body.circuitId}`);
      const c = await start(h, s.id);
      assert.deepEqual([c.body.reused, c.body.circuitId], [true, w.body.circuitId]);
      await h.api('DELETE', `/v1/circuits/${w.body.circuitId}`);
      const d = await start(h, s.id);
      assert.equal(d.body.reused, false);
      assert.ok(![a.body.circuitId, w.body.circuitId].includes(d.body.circuitId));

      const list = await h.api('GET', `/v1/circuits?sessionId=${s.id}&state=ACTIVE`);
      assert.equal(list.body.items.length, 2);
    } finally {
      await h.close();
    }
  });

  test('concurrent start-service calls for one service share one circuit', async () => {
    const h = await ManagerHarness.create();
    try {
      const s = await h.runningSession();
      const results = await Promise.all(Array.from({ length: 5 }, () => start(h, s.id)));
      assert.ok(results.every((r) => r.status === 200));
      assert.equal(new Set(results.map((r) => r.body.circuitId)).size, 1);
      assert.equal(results.filter((r) => !r.body.reused).length, 1);
    } finally {
      await h.close();
    }
  });

  test('50 parallel start-service calls on 50 sessions get 50 distinct slots', async () => {
    const h = await ManagerHarness.create({
      workers: [
        { authority: 'a', portRange: [30000, 30039] },
        { authority: 'b', portRange: [31000, 31039] },
      ],
    });
    try {
      const sessions = await Promise.all(Array.from({ length: 50 }, () => h.runningSession()));
      const results = await Promise.all(sessions.map((s) => start(h, s.id)));
      for (const r of results) assert.equal(r.status, 200, r.text);
      const urls = results.map((r) => r.body.appUrl as string);
      assert.equal(new Set(urls).size, 50);
      const { rows } = await h.sql.query<{ worker: string; n: number }>(
        `SELECT worker, count(*)::int AS n FROM circuits WHERE state = 'ACTIVE' GROUP BY worker ORDER BY worker`,
      );
      // Least loaded: the two workers share the load evenly.
      assert.deepEqual(rows, [
        { worker: 'a', n: 25 },
        { worker: 'b', n: 25 },
      ]);
      // Lowest free ports: each worker's ports are a contiguous block from its range start.
      const aPorts = urls
        .filter((u) => u.includes(':300'))
        .map((u) => Number(new URL(u).port))
        .sort();
      assert.deepEqual(
        aPorts,
        Array.from({ length: 25 }, (_, i) => 30000 + i),
      );
    } finally {
      await h.close();
    }
  });

  test('port range exhausted → 503 AP_ERR_NO_SLOT; closing one frees its slot', async () => {
    const h = await ManagerHarness.create({ workers: [{ authority: 'w1', portRange: [20000, 20001] }] });
    try {
      const s = await Promise.all([h.runningSession(), h.runningSession(), h.runningSession()]);
      const a = await start(h, s[0]!.id);
      const b = await start(h, s[1]!.id);
      assert.deepEqual([a.status, b.status], [200, 200]);
      const c = await start(h, s[2]!.id);
      assertEnvelope(c, 503, 'AP_ERR_NO_SLOT');
      const closed = await h.api('DELETE', `/v1/circuits/${a.body.circuitId}`);
      assert.equal(closed.status, 200);
      assert.equal(closed.body.state, 'CLOSED');
      assert.ok(closed.body.closedAt);
      const d = await start(h, s[2]!.id);
      assert.equal(d.status, 200);
      assert.equal(d.body.appUrl, a.body.appUrl);
    } finally {
      await h.close();
    }
  });

  test('no eligible worker → 503 AP_ERR_NO_WORKER; a worker that leaves is not chosen', async () => {
    const h = await ManagerHarness.create({ workers: [{ authority: 'w1' }] });
    try {
      const s = await h.runningSession();
      await h.workers[0]!.stop();
      await until(
        async () => {
          const w = await h.api('GET', '/v1/workers');
          return w.body.items[0].healthy === false;
        },
        'the worker to be unhealthy',
        { timeoutMs: 5000 },
      );
      assertEnvelope(await start(h, s.id), 503, 'AP_ERR_NO_WORKER');
    } finally {
      await h.close();
    }
  });

  test('readiness error → 502 AP_ERR_ROUTE_FAILED with the worker code; circuit CLOSED, route gone, slot free', async () => {
    const h = await ManagerHarness.create({ workers: [{ authority: 'w1', portRange: [20000, 20000] }] });
    try {
      const s = await h.runningSession();
      h.workers[0]!.behavior = { kind: 'error', code: 'EADDRINUSE', message: 'port 20000 is in use' };
      const res = await start(h, s.id);
      assertEnvelope(res, 502, 'AP_ERR_ROUTE_FAILED');
      assert.equal(res.body.detail.code, 'EADDRINUSE');
      assert.equal(res.body.detail.message, 'port 20000 is in use');
      const list = await h.api('GET', `/v1/circuits?sessionId=${s.id}`);
      assert.equal(list.body.items.length, 1);
      assert.equal(list.body.items[0].state, 'CLOSED');
      assert.match(list.body.items[0].stateReason, /EADDRINUSE/);
      assert.equal((await h.kv.getPrefix(kvKeys.circuits('w1'))).entries.length, 0);
      h.workers[0]!.behavior = { kind: 'ready' };
      const ok = await start(h, s.id);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.appUrl, 'http://127.0.0.1:20000/');
    } finally {
      await h.close();
    }
  });

  test('readiness timeout → 504 AP_ERR_ROUTE_NOT_READY and the circuit is closed', async () => {
    const h = await ManagerHarness.create({ manager: { routeReadyTimeoutMs: 300 } });
    try {
      const s = await h.runningSession();
      h.workers[0]!.behavior = { kind: 'silent' };
      const t0 = Date.now();
      const res = await start(h, s.id);
      assertEnvelope(res, 504, 'AP_ERR_ROUTE_NOT_READY');
      assert.ok(Date.now() - t0 < 2500);
      const list = await h.api('GET', `/v1/circuits?sessionId=${s.id}`);
      assert.equal(list.body.items[0].state, 'CLOSED');
      assert.equal((await h.kv.getPrefix(kvKeys.circuits('w1'))).entries.length, 0);
    } finally {
      await h.close();
    }
  });

  test('session must be RUNNING and the service must exist; next must be a same-origin path', async () => {
    const h = await ManagerHarness.create();
    try {
      h.agent.autoRun = false;
      const p = await h.api('POST', '/v1/sessions', { template: 'web' });
      const notRunning = await start(h, p.body.id);
      assertEnvelope(notRunning, 409, 'AP_ERR_SESSION_NOT_RUNNING');
      h.agent.autoRun = true;
      const s = await h.runningSession();
      const missing = await start(h, s.id, { service: 'vscode' });
      assertEnvelope(missing, 404, 'AP_ERR_SERVICE_NOT_FOUND');
      assert.deepEqual(missing.body.detail.available, ['http']);
      for (const next of ['https://evil.example/', '//evil.example/', '/\\evil.example', 'relative']) {
        const r = await start(h, s.id, { service: 'http', next });
        assertEnvelope(r, 400, 'AP_ERR_VALIDATION');
        assert.equal(r.body.detail[0].field, '/next');
      }
      const mode = await start(h, s.id, { service: 'http', frontend: 'ftp' });
      assertEnvelope(mode, 400, 'AP_ERR_VALIDATION');
      assert.equal(mode.body.detail[0].field, '/frontend');
    } finally {
      await h.close();
    }
  });

  test('activity sums the counters the workers wrote', async () => {
    const h = await ManagerHarness.create();
    try {
      const s = await h.runningSession();
      const { circuitId } = (await start(h, s.id)).body;
      const { counterKeys } = await import('../../../src/contracts/activity.ts');
      await h.counters.batch([
        { type: 'incr', key: counterKeys.bytesIn(circuitId), by: 100 },
        { type: 'incr', key: counterKeys.bytesOut(circuitId), by: 2000 },
        { type: 'incr', key: counterKeys.requests(circuitId), by: 3 },
        { type: 'max', key: counterKeys.lastClientAt(circuitId), value: 1_700_000_000_000 },
        { type: 'max', key: counterKeys.lastBackendAt(circuitId), value: 1_700_000_001_000 },
        { type: 'set', key: counterKeys.openConnections(circuitId, 'w1:1'), value: '2' },
        { type: 'set', key: counterKeys.openConnections(circuitId, 'w1:2'), value: '1' },
      ]);
      const act = await h.api('GET', `/v1/circuits/${circuitId}/activity`);
      assert.deepEqual(act.body, {
        circuitId,
        bytesIn: 100,
        bytesOut: 2000,
        requests: 3,
        openConnections: 3,
        lastClientAt: new Date(1_700_000_000_000).toISOString(),
        lastBackendAt: new Date(1_700_000_001_000).toISOString(),
        lastActivityAt: new Date(1_700_000_001_000).toISOString(),
        idleSince: new Date(1_700_000_001_000).toISOString(),
        policy: null,
        policies: [],
      });
    } finally {
      await h.close();
    }
  });
});
