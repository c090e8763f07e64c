/**
 * The manager's side of TCP circuits: access modes at start-service, the access change in place
 * (start-service again, PATCH …/access), and tunnel tokens. Real embedded stores; fake workers
 * that follow the KV protocol (they record every CircuitSpec they are given).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Value } from 'typebox/value';
import type { CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys, type SetupTokenKeySet } from '../../../src/contracts/kv-layout.ts';
import { SetupTokenVerifier } from '../../../src/core/setup-token.ts';
import { CircuitSchema, StartServiceResultSchema, TunnelTokenSchema } from '../../../src/manager/schemas.ts';
import { until } from '../../support/poll.ts';
import { ADMIN_TOKEN, assertEnvelope, ManagerHarness } from './harness.ts';

const start = (h: ManagerHarness, sessionId: string, body: Record<string, unknown>, token?: string) =>
  h.api('POST', `/v1/sessions/${sessionId}/start-service`, body, token);

async function routeOf(h: ManagerHarness, circuitId: string, worker = 'w1'): Promise<CircuitSpec> {
  const e = await h.kv.get(kvKeys.circuit(worker, circuitId));
  assert.ok(e, `no route for ${circuitId}`);
  return JSON.parse(e.value) as CircuitSpec;
}

async function verifier(h: ManagerHarness): Promise<SetupTokenVerifier> {
  const keys = JSON.parse((await h.kv.get(kvKeys.setupTokenKeys()))!.value) as SetupTokenKeySet;
  return new SetupTokenVerifier(keys);
}

/** A session of `token`'s user, RUNNING. */
async function sessionOf(h: ManagerHarness, token: string, template = 'shell') {
  const res = await h.api('POST', '/v1/sessions', { template }, token);
  assert.equal(res.status, 201, res.text);
  return until(
    async () => {
      const s = await h.api('GET', `/v1/sessions/${res.body.id}`, undefined, token);
      return s.body.state === 'RUNNING' ? s.body : undefined;
    },
    'the session to be RUNNING',
    { timeoutMs: 5000 },
  );
}

describe('TCP circuits: access at start-service', () => {
  test('a tcp service defaults to tunnel: the origin that carries tunnels, no setup URL, tcp in the route', async () => {
    const h = await ManagerHarness.create();
    try {
      const s = await h.runningSession('shell');
      const res = await start(h, s.id, { service: 'ssh' });
      assert.equal(res.status, 200, res.text);
      assert.ok(Value.Check(StartServiceResultSchema, res.body));
      assert.deepEqual(
        { ...res.body, circuitId: typeof res.body.circuitId },
        {
          circuitId: 'string',
          appUrl: 'http://127.0.0.1:20000/',
          setupUrl: null,
          expiresAt: null,
          reused: false,
        },
      );
      const id = res.body.circuitId as string;
      const spec = await routeOf(h, id);
      assert.equal(spec.protocol, 'tcp');
      assert.equal(spec.frontendMode, 'port');
      assert.deepEqual(spec.tcp, { access: 'tunnel', allowFrom: [], maxConnections: 256 });
      assert.equal(spec.idleTimeoutMs, 30 * 60_000);
      // The worker was given exactly this route before the answer.
      assert.deepEqual(h.workers[0]!.routes.get(id)?.tcp, spec.tcp);

      const c = await h.api('GET', `/v1/circuits/${id}`);
      assert.ok(Value.Check(CircuitSchema, c.body), c.text);
      assert.deepEqual(c.body.access, { mode: 'tunnel', allowFrom: [] });
      assert.equal(c.body.appUrl, 'http://127.0.0.1:20000/');
      assert.deepEqual(c.body.idle, { connectionIdleTimeoutMs: 30 * 60_000, circuitIdleTimeoutMs: null });

      // An http circuit has no access and carries the connection idle timeout for its WebSockets.
      const web = await start(h, s.id, { service: 'http' });
      assert.equal((await h.api('GET', `/v1/circuits/${web.body.circuitId}`)).body.access, null);
      assert.equal((await routeOf(h, web.body.circuitId)).tcp, undefined);
    } finally {
      await h.close();
    }
  });

  test('allow-list: addresses and CIDRs (v4 and v6) are validated, and reach the worker', async () => {
    const h = await ManagerHarness.create({ manager: { tcp: { maxConnectionsPerCircuit: 7 } } });
    try {
      const s = await h.runningSession('shell');
      for (const [allowFrom, why] of [
        [[], 'empty'],
        [['10.0.0.0/33'], 'prefix too long for v4'],
        [['2001:db8::/129'], 'prefix too long for v6'],
        [['example.com'], 'a host name'],
        [['10.0.0.1/8/1'], 'two slashes'],
        [['10.0.0.256'], 'not an address'],
        [['10.0.0.0/x'], 'prefix not a number'],
      ] as const) {
        const res = await start(h, s.id, { service: 'ssh', access: { mode: 'allow-list', allowFrom } });
        assertEnvelope(res, 400, 'AP_ERR_VALIDATION');
        assert.equal(res.body.detail[0].field, '/access/allowFrom', why);
      }
      // Nothing was opened by the refused requests.
      assert.equal((await h.api('GET', `/v1/circuits?sessionId=${s.id}`)).body.items.length, 0);

      const ok = await start(h, s.id, {
        service: 'ssh',
        access: { mode: 'allow-list', allowFrom: ['127.0.0.1', ' 10.0.0.0/8', '2001:db8::/32', '127.0.0.1'] },
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.appUrl, 'tcp://127.0.0.1:20000');
      assert.equal(ok.body.setupUrl, null);
      const spec = await routeOf(h, ok.body.circuitId);
      assert.deepEqual(spec.tcp, {
        access: 'allow-list',
        allowFrom: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'],
        maxConnections: 7,
      });
      const c = (await h.api('GET', `/v1/circuits/${ok.body.circuitId}`)).body;
      assert.deepEqual(c.access, {
        mode: 'allow-list',
        allowFrom: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'],
      });
      assert.equal(c.appUrl, 'tcp://127.0.0.1:20000');
    } finally {
      await h.close();
    }
  });

  test('listing addresses means allow-list; addresses with another mode are refused', async () => {
    const h = await ManagerHarness.create();
    try {
      const s = await h.runningSession('shell');
      const bad = await start(h, s.id, {
        service: 'ssh',
        access: { mode: 'tunnel', allowFrom: ['10.0.0.1'] },
      });
      assertEnvelope(bad, 400, 'AP_ERR_VALIDATION');
      const ok = await start(h, s.id, { service: 'ssh', access: { allowFrom: ['10.0.0.1'] } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await routeOf(h, ok.body.circuitId)).tcp?.access, 'allow-list');
    } finally {
      await h.close();
    }
  });

  test('public is refused unless the configuration permits it (an allow-list of everyone too)', async () => {
    const closed = await ManagerHarness.create();
    try {
      const s = await closed.runningSession('shell');
      const pub = await start(closed, s.id, { service: 'ssh', access: { mode: 'public' } });
      assertEnvelope(pub, 403, 'AP_ERR_ACCESS_NOT_PERMITTED');
      assert.match(pub.body.message, /tcp\.allowPublic/);
      for (const everyone of ['0.0.0.0/0', '::/0']) {
        assertEnvelope(
          await start(closed, s.id, {
            service: 'ssh',
            access: { mode: 'allow-list', allowFrom: [everyone] },
          }),
          403,
          'AP_ERR_ACCESS_NOT_PERMITTED',
        );
      }
      assert.equal((await closed.api('GET', `/v1/circuits?sessionId=${s.id}`)).body.items.length, 0);
    } finally {
      await closed.close();
    }
    const open = await ManagerHarness.create({ manager: { tcp: { allowPublic: true } } });
    try {
      const s = await open.runningSession('shell');
      const pub = await start(open, s.id, { service: 'ssh', access: { mode: 'public' } });
      assert.equal(pub.status, 200, pub.text);
      assert.equal(pub.body.appUrl, 'tcp://127.0.0.1:20000');
      assert.deepEqual((await routeOf(open, pub.body.circuitId)).tcp, {
        access: 'public',
        allowFrom: [],
        maxConnections: 256,
      });
    } finally {
      await open.close();
    }
  });

  test('wildcard mode, access on an http service, and workers without tcp are refused clearly', async () => {
    const h = await ManagerHarness.create({
      workers: [
        { authority: 'web-only', protocols: ['http'] },
        { authority: 'wc', frontendMode: 'wildcard' },
      ],
    });
    try {
      const s = await h.runningSession('shell');
      const wc = await start(h, s.id, { service: 'ssh', frontend: 'wildcard' });
      assertEnvelope(wc, 400, 'AP_ERR_VALIDATION');
      assert.equal(wc.body.detail[0].field, '/frontend');
      assert.match(wc.body.message, /port-mode/);
      const http = await start(h, s.id, { service: 'http', access: { mode: 'tunnel' } });
      assertEnvelope(http, 400, 'AP_ERR_VALIDATION');
      assert.equal(http.body.detail[0].field, '/access');
      // The only port-mode worker does not offer tcp.
      const none = await start(h, s.id, { service: 'ssh' });
      assertEnvelope(none, 503, 'AP_ERR_NO_WORKER');
      assert.deepEqual(none.body.detail, { protocol: 'tcp', frontendMode: 'port' });
      const bogus = await start(h, s.id, { service: 'ssh', access: { mode: 'open' } });
      assertEnvelope(bogus, 400, 'AP_ERR_VALIDATION');
    } finally {
      await h.close();
    }
  });
});

describe('TCP circuits: changing the access of a live circuit', () => {
  test('start-service again with another access updates the circuit in place; the same access changes nothing', async () => {
    const h = await ManagerHarness.create();
    try {
      const s = await h.runningSession('shell');
      const a = await start(h, s.id, { service: 'ssh' });
      const id = a.body.circuitId as string;
      const w = h.workers[0]!;
      const puts = () => w.events.filter((e) => e.circuitId === id && e.type === 'route-added').length;
      assert.equal(puts(), 1);

      const same = await start(h, s.id, { service: 'ssh', access: { mode: 'tunnel' } });
      assert.deepEqual([same.body.circuitId, same.body.reused], [id, true]);
      const plain = await start(h, s.id, { service: 'ssh' });
      assert.deepEqual([plain.body.circuitId, plain.body.reused], [id, true]);
      assert.equal(puts(), 1, 'no re-put when the access does not change');

      const b = await start(h, s.id, {
        service: 'ssh',
        access: { mode: 'allow-list', allowFrom: ['10.1.0.0/16'] },
      });
      assert.equal(b.status, 200, b.text);
      assert.deepEqual([b.body.circuitId, b.body.reused], [id, true]);
      assert.equal(b.body.appUrl, 'tcp://127.0.0.1:20000');
      await until(() => puts() === 2, 'the route re-put', { timeoutMs: 2000 });
      assert.deepEqual(w.routes.get(id)?.tcp, {
        access: 'allow-list',
        allowFrom: ['10.1.0.0/16'],
        maxConnections: 256,
      });
      // Still the same slot and circuit; nothing closed.
      assert.equal(await h.circuitState(id), 'ACTIVE');
      assert.equal(w.events.filter((e) => e.type === 'route-removed').length, 0);
      // Without access, a re-use keeps what the circuit has.
      const c = await start(h, s.id, { service: 'ssh' });
      assert.equal(c.body.appUrl, 'tcp://127.0.0.1:20000');
    } finally {
      await h.close();
    }
  });

  test('PATCH /v1/circuits/{id}/access: SQL and the route in KV; validation, ownership and state', async () => {
    const h = await ManagerHarness.create();
    try {
      const bob = await h.addUser('bob');
      const s = await sessionOf(h, bob);
      const a = await start(h, s.id, { service: 'ssh' }, bob);
      const id = a.body.circuitId as string;
      const patch = (body: unknown, token = bob) => h.api('PATCH', `/v1/circuits/${id}/access`, body, token);

      const res = await patch({ mode: 'allow-list', allowFrom: ['192.0.2.0/24'] });
      assert.equal(res.status, 200, res.text);
      assert.ok(Value.Check(CircuitSchema, res.body));
      assert.deepEqual(res.body.access, { mode: 'allow-list', allowFrom: ['192.0.2.0/24'] });
      assert.equal(res.body.appUrl, 'tcp://127.0.0.1:20000');
      assert.deepEqual((await routeOf(h, id)).tcp, {
        access: 'allow-list',
        allowFrom: ['192.0.2.0/24'],
        maxConnections: 256,
      });
      // allowFrom alone replaces the list; mode alone (still allow-list) keeps it.
      await patch({ allowFrom: ['198.51.100.7'] });
      assert.deepEqual((await routeOf(h, id)).tcp?.allowFrom, ['198.51.100.7']);
      await patch({ mode: 'allow-list' });
      assert.deepEqual((await routeOf(h, id)).tcp?.allowFrom, ['198.51.100.7']);
      // Back to tunnel: the list goes.
      const back = await patch({ mode: 'tunnel' });
      assert.deepEqual(back.body.access, { mode: 'tunnel', allowFrom: [] });
      assert.equal(back.body.appUrl, 'http://127.0.0.1:20000/');
      assert.deepEqual((await routeOf(h, id)).tcp, { access: 'tunnel', allowFrom: [], maxConnections: 256 });

      assertEnvelope(await patch({}), 400, 'AP_ERR_VALIDATION');
      assertEnvelope(await patch({ mode: 'allow-list' }), 400, 'AP_ERR_VALIDATION');
      assertEnvelope(await patch({ allowFrom: ['nope'] }), 400, 'AP_ERR_VALIDATION');
      assertEnvelope(await patch({ mode: 'public' }), 403, 'AP_ERR_ACCESS_NOT_PERMITTED');
      // Another user does not see the circuit; an admin may change it.
      const eve = await h.addUser('eve');
      assertEnvelope(await patch({ mode: 'tunnel' }, eve), 404, 'AP_ERR_CIRCUIT_NOT_FOUND');
      assert.equal((await patch({ allowFrom: ['203.0.113.1'] }, ADMIN_TOKEN)).status, 200);
      // http circuits have no access; closed circuits cannot change.
      const web = await start(h, s.id, { service: 'http' }, bob);
      assertEnvelope(
        await h.api('PATCH', `/v1/circuits/${web.body.circuitId}/access`, { mode: 'tunnel' }, bob),
        400,
        'AP_ERR_VALIDATION',
      );
      await h.api('DELETE', `/v1/circuits/${id}`, undefined, bob);
      assertEnvelope(await patch({ mode: 'tunnel' }), 410, 'AP_ERR_CIRCUIT_CLOSED');
      assert.equal(
        await h.kv.get(kvKeys.circuit('w1', id)),
        undefined,
        'a closed circuit gets no route back',
      );

      const events = await h.api('GET', `/v1/circuits/${id}/events`, undefined, bob);
      assert.equal(events.status, 200, events.text);
      const kinds = events.body.items.map((e: { kind: string }) => e.kind);
      assert.equal(kinds[0], 'circuit-opened');
      assert.equal(kinds.at(-1), 'circuit-closed');
      assert.ok(kinds.filter((k: string) => k === 'circuit-access-changed').length >= 3, kinds.join());
      assertEnvelope(
        await h.api('GET', `/v1/circuits/${id}/events`, undefined, eve),
        404,
        'AP_ERR_CIRCUIT_NOT_FOUND',
      );
    } finally {
      await h.close();
    }
  });

  test('the reconciler repairs a route whose access differs from SQL', async () => {
    const h = await ManagerHarness.create();
    try {
      const s = await h.runningSession('shell');
      const id = (await start(h, s.id, { service: 'ssh', access: { allowFrom: ['10.0.0.1'] } })).body
        .circuitId;
      const spec = await routeOf(h, id);
      await h.kv.put(
        kvKeys.circuit('w1', id),
        JSON.stringify({ ...spec, tcp: { ...spec.tcp, allowFrom: ['0.0.0.0/0'] } }),
      );
      const repairs = await h.manager.reconcile();
      assert.deepEqual(repairs, [{ kind: 'route-stale', subject: `circuit/${id}` }]);
      assert.deepEqual((await routeOf(h, id)).tcp?.allowFrom, ['10.0.0.1']);
      assert.deepEqual(await h.manager.reconcile(), []);
    } finally {
      await h.close();
    }
  });
});

describe('tunnel tokens', () => {
  test('minted for the owner (and admins), single-purpose, audience = circuit, ≤ 60 s, never logged', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const h = await ManagerHarness.create({
      logger: pino({ level: 'debug' }, sink),
      manager: { setupTokenTtlMs: 120_000 },
    });
    try {
      const bob = await h.addUser('bob');
      const s = await sessionOf(h, bob);
      const id = (await start(h, s.id, { service: 'ssh' }, bob)).body.circuitId as string;
      const res = await h.api('POST', `/v1/circuits/${id}/tunnel-token`, undefined, bob);
      assert.equal(res.status, 200, res.text);
      assert.ok(Value.Check(TunnelTokenSchema, res.body));
      assert.equal(res.body.url, 'ws://127.0.0.1:20000/_appproxy/tunnel');
      const v = await verifier(h);
      const claims = await v.verify(res.body.token, id, 'tunnel');
      assert.equal(claims.userId, 'bob');
      assert.equal(new Date(res.body.expiresAt).getTime(), claims.expiresAt);
      assert.ok(claims.expiresAt - Date.now() <= 61_000, 'lifetime capped at 60 s');
      await assert.rejects(v.verify(res.body.token, id, 'setup'), { code: 'AP_ERR_SETUP_TOKEN_INVALID' });
      await assert.rejects(v.verify(res.body.token, 'another-circuit', 'tunnel'), {
        code: 'AP_ERR_TUNNEL_TOKEN_INVALID',
      });
      // Each call mints a fresh single-use token.
      const again = await h.api('POST', `/v1/circuits/${id}/tunnel-token`, undefined, bob);
      assert.notEqual(again.body.token, res.body.token);
      // An admin may mint one; it stays bound to the circuit's owner.
      const admin = await h.api('POST', `/v1/circuits/${id}/tunnel-token`);
      assert.equal((await v.verify(admin.body.token, id, 'tunnel')).userId, 'bob');

      const eve = await h.addUser('eve');
      assertEnvelope(
        await h.api('POST', `/v1/circuits/${id}/tunnel-token`, undefined, eve),
        404,
        'AP_ERR_CIRCUIT_NOT_FOUND',
      );
      const log = lines.join('');
      assert.match(log, /tunnel token issued/);
      for (const t of [res.body.token, again.body.token, admin.body.token])
        assert.ok(!log.includes(t), 'token in logs');
    } finally {
      await h.close();
    }
  });

  test('refused (409) for http circuits, allow-list and public circuits, and circuits that are not ACTIVE', async () => {
    const h = await ManagerHarness.create({ manager: { tcp: { allowPublic: true } } });
    try {
      const s = await h.runningSession('shell');
      const token = (id: string) => h.api('POST', `/v1/circuits/${id}/tunnel-token`);
      const web = (await start(h, s.id, { service: 'http' })).body.circuitId;
      const r1 = await token(web);
      assertEnvelope(r1, 409, 'AP_ERR_TUNNEL_NOT_AVAILABLE');
      assert.deepEqual(r1.body.detail, { protocol: 'http', access: null, state: 'ACTIVE' });
      const tcp = (await start(h, s.id, { service: 'ssh', access: { allowFrom: ['127.0.0.1'] } })).body
        .circuitId;
      assertEnvelope(await token(tcp), 409, 'AP_ERR_TUNNEL_NOT_AVAILABLE');
      await h.api('PATCH', `/v1/circuits/${tcp}/access`, { mode: 'public' });
      assertEnvelope(await token(tcp), 409, 'AP_ERR_TUNNEL_NOT_AVAILABLE');
      await h.api('PATCH', `/v1/circuits/${tcp}/access`, { mode: 'tunnel' });
      assert.equal((await token(tcp)).status, 200);
      await h.api('DELETE', `/v1/circuits/${tcp}`);
      const closed = await token(tcp);
      assertEnvelope(closed, 409, 'AP_ERR_TUNNEL_NOT_AVAILABLE');
      assert.equal(closed.body.detail.state, 'CLOSED');
      assertEnvelope(await token('no-such-circuit'), 404, 'AP_ERR_CIRCUIT_NOT_FOUND');
    } finally {
      await h.close();
    }
  });

  test('the URL is wss when the worker is reached over https', async () => {
    const h = await ManagerHarness.create({
      workers: [{ authority: 'w1', publicScheme: 'https', publicHost: 'apps.example.test' }],
    });
    try {
      const s = await h.runningSession('shell');
      const id = (await start(h, s.id, { service: 'ssh' })).body.circuitId;
      const res = await h.api('POST', `/v1/circuits/${id}/tunnel-token`);
      assert.equal(res.body.url, 'wss://apps.example.test:20000/_appproxy/tunnel');
    } finally {
      await h.close();
    }
  });
});
