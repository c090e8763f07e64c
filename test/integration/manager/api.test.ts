import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Value } from 'typebox/value';
import {
  SessionListSchema,
  SessionSchema,
  TemplateListSchema,
  WorkerListSchema,
} from '../../../src/manager/schemas.ts';
import { hashToken } from '../../../src/manager/services/auth.ts';
import { assertEnvelope, ManagerHarness } from './harness.ts';

describe('manager API shape', () => {
  let h: ManagerHarness;
  before(async () => {
    h = await ManagerHarness.create();
  });
  after(async () => {
    await h.close();
  });

  test('auth: no token, malformed header, wrong token, right token', async () => {
    assertEnvelope(await h.api('GET', '/v1/sessions', undefined, null), 401, 'AP_ERR_UNAUTHENTICATED');
    const basic = await h.manager.app.inject({
      method: 'GET',
      url: '/v1/sessions',
      headers: { authorization: 'Basic x' },
    });
    assert.equal(basic.statusCode, 401);
    assert.equal(JSON.parse(basic.body).code, 'AP_ERR_UNAUTHENTICATED');
    assertEnvelope(
      await h.api('GET', '/v1/sessions', undefined, 'not-the-token'),
      401,
      'AP_ERR_TOKEN_INVALID',
    );
    const ok = await h.api('GET', '/v1/sessions');
    assert.equal(ok.status, 200);
    assert.ok(Value.Check(SessionListSchema, ok.body));
  });

  test('auth is checked before validation (no field details for strangers)', async () => {
    assertEnvelope(await h.api('POST', '/v1/sessions', { bogus: 1 }, null), 401, 'AP_ERR_UNAUTHENTICATED');
  });

  test('only a digest of the admin token is stored', async () => {
    const { rows } = await h.sql.query<{ token_hash: string }>('SELECT token_hash FROM api_tokens');
    assert.equal(rows.length, 1);
    assert.match(rows[0]!.token_hash, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(rows).includes('test-admin-token'));
  });

  test('validation: unknown field, wrong type, missing field → 400 naming the field', async () => {
    const unknown = await h.api('POST', '/v1/sessions', { template: 'web', colour: 'red' });
    assertEnvelope(unknown, 400, 'AP_ERR_VALIDATION');
    assert.deepEqual(
      unknown.body.detail.map((d: { field: string }) => d.field),
      ['/colour'],
    );
    const wrong = await h.api('POST', '/v1/sessions', { template: 42 });
    assertEnvelope(wrong, 400, 'AP_ERR_VALIDATION');
    assert.equal(wrong.body.detail[0].field, '/template');
    assert.equal(wrong.body.detail[0].in, 'body');
    const missing = await h.api('POST', '/v1/sessions', {});
    assertEnvelope(missing, 400, 'AP_ERR_VALIDATION');
    assert.deepEqual(missing.body.detail, [
      { field: '/template', in: 'body', message: 'exactly one of template and external is required' },
    ]);
    const query = await h.api('GET', '/v1/sessions?state=SLEEPING');
    assertEnvelope(query, 400, 'AP_ERR_VALIDATION');
    assert.equal(query.body.detail[0].field, '/state');
    assert.equal(query.body.detail[0].in, 'querystring');
    const extraQuery = await h.api('GET', '/v1/circuits?sort=asc');
    assertEnvelope(extraQuery, 400, 'AP_ERR_VALIDATION');
    assert.equal(extraQuery.body.detail[0].field, '/sort');
  });

  test('malformed JSON and a non-JSON body are 400 envelopes', async () => {
    const bad = await h.manager.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: {
        authorization: 'Bearer test-admin-token-0123456789abcdef',
        'content-type': 'application/json',
      },
      payload: '{"template": ',
    });
    const body = JSON.parse(bad.body);
    assert.equal(bad.statusCode, 400);
    assert.equal(body.code, 'AP_ERR_VALIDATION');
    assert.equal(bad.headers['x-request-id'], body.requestId);
    const text = await h.manager.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { authorization: 'Bearer test-admin-token-0123456789abcdef', 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assert.equal(text.statusCode, 400);
    assert.equal(JSON.parse(text.body).code, 'AP_ERR_VALIDATION');
  });

  test('unknown routes → 404 AP_ERR_NOT_FOUND envelope; unknown ids → their own codes', async () => {
    assertEnvelope(await h.api('GET', '/v1/nothing-here'), 404, 'AP_ERR_NOT_FOUND');
    assertEnvelope(await h.api('GET', '/v1/nothing-here', undefined, null), 404, 'AP_ERR_NOT_FOUND');
    assertEnvelope(await h.api('GET', '/v1/sessions/nope'), 404, 'AP_ERR_SESSION_NOT_FOUND');
    assertEnvelope(await h.api('GET', '/v1/circuits/nope'), 404, 'AP_ERR_CIRCUIT_NOT_FOUND');
    assertEnvelope(await h.api('GET', '/v1/circuits/nope/activity'), 404, 'AP_ERR_CIRCUIT_NOT_FOUND');
    assertEnvelope(await h.api('DELETE', '/v1/circuits/nope'), 404, 'AP_ERR_CIRCUIT_NOT_FOUND');
    assertEnvelope(await h.api('DELETE', '/v1/sessions/nope'), 404, 'AP_ERR_SESSION_NOT_FOUND');
    assertEnvelope(
      await h.api('POST', '/v1/sessions/nope/start-service', { service: 'http' }),
      404,
      'AP_ERR_SESSION_NOT_FOUND',
    );
  });

  test('every response carries x-request-id; a sane inbound one is kept', async () => {
    const r = await h.manager.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'abc-123' },
    });
    assert.equal(r.headers['x-request-id'], 'abc-123');
    const r2 = await h.manager.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'bad id\u0001' },
    });
    assert.match(String(r2.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('templates: unknown → AP_ERR_TEMPLATE_NOT_FOUND; unavailable → AP_ERR_TEMPLATE_UNAVAILABLE with the reason', async () => {
    const list = await h.api('GET', '/v1/templates');
    assert.equal(list.status, 200);
    assert.ok(Value.Check(TemplateListSchema, list.body));
    assert.deepEqual(
      list.body.items.map((t: { name: string }) => t.name),
      ['web', 'shell', 'broken'],
    );
    assertEnvelope(
      await h.api('POST', '/v1/sessions', { template: 'nope' }),
      400,
      'AP_ERR_TEMPLATE_NOT_FOUND',
    );
    const un = await h.api('POST', '/v1/sessions', { template: 'broken' });
    assertEnvelope(un, 409, 'AP_ERR_TEMPLATE_UNAVAILABLE');
    assert.equal(un.body.detail.reason, 'program "nope" is not installed');
    assert.match(un.body.message, /not installed/);
  });

  test('create session: 201 PENDING with a default name, then RUNNING with backends', async () => {
    h.agent.autoRun = false;
    const res = await h.api('POST', '/v1/sessions', { template: 'shell' });
    h.agent.autoRun = true;
    assert.equal(res.status, 201);
    assert.ok(
      Value.Check(SessionSchema, res.body),
      JSON.stringify([...Value.Errors(SessionSchema, res.body)]),
    );
    assert.equal(res.body.state, 'PENDING');
    assert.match(res.body.name, /^shell-[0-9a-f]{4}$/);
    assert.deepEqual(res.body.services, [
      { name: 'http', protocol: 'http', backend: null },
      { name: 'ssh', protocol: 'tcp', backend: null },
    ]);
    h.agent.report({
      sessionId: res.body.id,
      state: 'RUNNING',
      reason: null,
      services: [
        { name: 'http', protocol: 'http', host: '127.0.0.1', port: 8888 },
        { name: 'ssh', protocol: 'tcp', host: '127.0.0.1', port: 2222 },
      ],
    });
    const s = await h.sessionIn(res.body.id, 'RUNNING');
    assert.deepEqual(s.services[1], {
      name: 'ssh',
      protocol: 'tcp',
      backend: { host: '127.0.0.1', port: 2222 },
    });
    const named = await h.api('POST', '/v1/sessions', { template: 'web', name: 'my-notebook' });
    assert.equal(named.body.name, 'my-notebook');
    const filtered = await h.api('GET', '/v1/sessions?state=RUNNING');
    assert.ok(filtered.body.items.every((x: { state: string }) => x.state === 'RUNNING'));
    assert.ok(filtered.body.items.some((x: { id: string }) => x.id === res.body.id));
  });

  test('workers: the registered one is healthy', async () => {
    const res = await h.api('GET', '/v1/workers');
    assert.equal(res.status, 200);
    assert.ok(Value.Check(WorkerListSchema, res.body), JSON.stringify(res.body));
    assert.deepEqual(
      res.body.items.map((w: { authority: string; healthy: boolean }) => [w.authority, w.healthy]),
      [['w1', true]],
    );
  });

  test('users see their own sessions only; workers are for admins', async () => {
    await h.sql.query(`INSERT INTO users (id, name, role) VALUES ('bob', 'bob', 'user')`);
    await h.sql.query(
      `INSERT INTO api_tokens (id, user_id, token_hash, name) VALUES ('t-bob', 'bob', $1, 'bob')`,
      [hashToken('bob-token')],
    );
    const adminSessions = (await h.api('GET', '/v1/sessions')).body.items;
    assert.ok(adminSessions.length > 0);
    assert.deepEqual((await h.api('GET', '/v1/sessions', undefined, 'bob-token')).body, { items: [] });
    assertEnvelope(
      await h.api('GET', `/v1/sessions/${adminSessions[0].id}`, undefined, 'bob-token'),
      404,
      'AP_ERR_SESSION_NOT_FOUND',
    );
    assertEnvelope(
      await h.api('DELETE', `/v1/sessions/${adminSessions[0].id}`, undefined, 'bob-token'),
      404,
      'AP_ERR_SESSION_NOT_FOUND',
    );
    const mine = await h.api('POST', '/v1/sessions', { template: 'web' }, 'bob-token');
    assert.equal(mine.body.ownerId, 'bob');
    const list = (await h.api('GET', '/v1/sessions', undefined, 'bob-token')).body.items;
    assert.deepEqual(
      list.map((x: { id: string }) => x.id),
      [mine.body.id],
    );
    assertEnvelope(await h.api('GET', '/v1/workers', undefined, 'bob-token'), 403, 'AP_ERR_FORBIDDEN');
  });

  test('healthz, readyz, metrics', async () => {
    const hz = await h.api('GET', '/healthz', undefined, null);
    assert.deepEqual([hz.status, hz.body], [200, { status: 'ok' }]);
    const rz = await h.api('GET', '/readyz', undefined, null);
    assert.deepEqual(
      [rz.status, rz.body],
      [
        200,
        {
          status: 'ready',
          stores: { sql: true, kv: true, counters: true },
          leader: { id: h.manager.id, self: true },
        },
      ],
    );
    const m = await h.manager.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(m.statusCode, 200);
    assert.match(String(m.headers['content-type']), /text\/plain/);
    assert.match(
      m.body,
      /appproxy_manager_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/,
    );
    assert.match(m.body, /appproxy_manager_sessions\{state="RUNNING"\} [1-9]/);
    assert.match(m.body, /appproxy_manager_circuits\{state="ACTIVE"\} \d+/);
    assert.match(m.body, /appproxy_manager_start_service_duration_seconds_bucket/);
  });

  test('/openapi.json lists every route with its schemas', async () => {
    const res = await h.api('GET', '/openapi.json', undefined, null);
    assert.equal(res.status, 200);
    assert.match(res.body.openapi, /^3\./);
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    const expected: [string, string][] = [
      ['/v1/sessions', 'post'],
      ['/v1/sessions', 'get'],
      ['/v1/sessions/{id}', 'get'],
      ['/v1/sessions/{id}', 'delete'],
      ['/v1/sessions/{id}/start-service', 'post'],
      ['/v1/circuits', 'get'],
      ['/v1/circuits/{id}', 'get'],
      ['/v1/circuits/{id}', 'delete'],
      ['/v1/circuits/{id}/activity', 'get'],
      ['/v1/circuits/{id}/access', 'patch'],
      ['/v1/circuits/{id}/tunnel-token', 'post'],
      ['/v1/circuits/{id}/events', 'get'],
      ['/v1/sessions/{id}/events', 'get'],
      ['/v1/workers', 'get'],
      ['/v1/templates', 'get'],
      ['/healthz', 'get'],
      ['/readyz', 'get'],
      ['/metrics', 'get'],
      ['/openapi.json', 'get'],
    ];
    for (const [p, m] of expected) assert.ok(paths[p]?.[m], `${m.toUpperCase()} ${p} missing from OpenAPI`);
    const post = paths['/v1/sessions']!.post as {
      requestBody: { content: Record<string, { schema: unknown }> };
    };
    const schema = post.requestBody.content['application/json']!.schema as {
      properties: Record<string, unknown>;
      additionalProperties: boolean;
    };
    // One of `template` and `external` is required; the service checks that they are exclusive.
    assert.deepEqual(Object.keys(schema.properties).sort(), ['external', 'idle', 'name', 'template']);
    assert.equal(schema.additionalProperties, false);
  });

  test('readyz reports the failing store with 503', async () => {
    const other = await ManagerHarness.create();
    await other.kv.close();
    const rz = await other.api('GET', '/readyz', undefined, null);
    assert.equal(rz.status, 503);
    assert.deepEqual(rz.body.stores, { sql: true, kv: false, counters: true });
    assert.equal(rz.body.status, 'unavailable');
    await other.manager.close();
    await other.sql.close();
    await other.counters.close();
  });

  test('readyz without the counters store: 200 degraded, naming it', async () => {
    const other = await ManagerHarness.create();
    await other.counters.close();
    const rz = await other.api('GET', '/readyz', undefined, null);
    assert.equal(rz.status, 200);
    assert.equal(rz.body.status, 'degraded');
    assert.deepEqual(rz.body.stores, { sql: true, kv: true, counters: false });
    await other.manager.close();
    await other.sql.close();
    await other.kv.close();
  });

  test('store failures are 503 AP_ERR_STORE_UNAVAILABLE envelopes', async () => {
    const other = await ManagerHarness.create();
    const s = await other.runningSession();
    await other.kv.close();
    const res = await other.api('POST', `/v1/sessions/${s.id}/start-service`, { service: 'http' });
    assertEnvelope(res, 503, 'AP_ERR_STORE_UNAVAILABLE');
    assert.deepEqual(res.body.detail, { store: 'kv' });
    await other.sql.close();
    const res2 = await other.api('GET', '/v1/sessions');
    assertEnvelope(res2, 503, 'AP_ERR_STORE_UNAVAILABLE');
    assert.deepEqual(res2.body.detail, { store: 'sql' });
    await other.manager.close();
    await other.counters.close();
  });
});
