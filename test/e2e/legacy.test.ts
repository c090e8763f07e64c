/**
 * The Backend.AI-compatible coordinator surface on the embedded system, called as Backend.AI's
 * manager and WebUI call it (bodies and answers as its DTOs give them,
 * `common/dto/appproxy_coordinator/v2`): behind `legacyCoordinatorApi`, guarded by the shared
 * secret; the two-step handshake down to the app; `integratedFlow` flipped both ways with the
 * circuits of each flow serving throughout (the rollback rule); the last-access keys Backend.AI's
 * idle checker reads; and the endpoint APIs driving a real inference endpoint.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { CookieJar, request } from '../support/http.ts';
import { type Sim, startSim } from '../support/llm-sim.ts';
import { until as poll } from '../support/poll.ts';

const until = <T>(fn: () => Promise<T | undefined>, what: string) => poll(fn, what, { timeoutMs: 10_000 });

import { startTestSystem, type TestSystem } from '../support/system.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';

const SECRET = 'bai-shared-secret-for-tests';
const USER = '2b7a9f3e-1c4d-4e5f-8a6b-7c8d9e0f1a2b';

describe('Backend.AI-compatible surface', () => {
  let t: TestSystem;
  let up: Upstream;
  let dir: string;

  const legacy = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = { 'x-backendai-token': SECRET },
  ) => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };

  /** Step 1 as Backend.AI's manager sends it (`start_service`). */
  const conf = (sessionId: string, user = USER, loginToken = 'bai-login-1') =>
    legacy('POST', '/v2/conf', {
      login_session_token: loginToken,
      kernel_host: '127.0.0.1',
      kernel_port: up.port,
      session: {
        id: sessionId,
        user_uuid: user,
        group_id: '0c8d3f5e-0000-4000-8000-000000000001',
        access_key: 'AKIAEXAMPLE',
        domain_name: 'default',
      },
    });

  /** Step 2 as the WebUI sends it (JSON form). */
  const proxyAuth = (token: string, sessionId: string, app: string, extra = '') =>
    legacy(
      'GET',
      `/v2/proxy/auth?token=${token}&session_id=${sessionId}&app=${app}&protocol=http${extra}`,
      undefined,
      { accept: 'application/json' },
    );

  /** Opens an app through the handshake; answers the setup link and the jar holding its cookie. */
  const openApp = async (sessionId: string, app: string, user = USER) => {
    const c = await conf(sessionId, user);
    assert.equal(c.status, 200, JSON.stringify(c.body));
    const a = await proxyAuth(c.body.token, sessionId, app);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const jar = new CookieJar();
    const setup = await request(a.body.redirect_url, { jar });
    assert.equal(setup.status, 302, setup.text);
    return { url: new URL(a.body.redirect_url), jar, reuse: a.body.reuse as boolean };
  };

  const get = (origin: string, jar: CookieJar, path = '/') => request(`${origin}${path}`, { jar });

  const setFlag = async (name: string, value: boolean) => {
    const r = await t.api('PUT', `/v1/flags/${name}`, { value });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'appproxy-legacy-'));
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
    up = await startUpstream();
    t = await startTestSystem({
      manager: { port: 0, legacy: { apiSecretFile: join(dir, 'secret') } },
    });
  });
  after(async () => {
    await t?.close();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('off by default: 503 with the flag named; turned on live, /status answers within a second', async () => {
    const off = await legacy('GET', '/status');
    assert.equal(off.status, 503);
    assert.equal(off.body.code, 'AP_ERR_FEATURE_DISABLED');
    assert.equal(off.body.detail.flag, 'legacyCoordinatorApi');
    assert.equal((await conf('00000000-0000-4000-8000-00000000dead')).status, 503, 'nothing is registered');

    const t0 = Date.now();
    await setFlag('legacyCoordinatorApi', true);
    const on = await until(async () => {
      const r = await legacy('GET', '/status');
      return r.status === 200 ? r : undefined;
    }, '/status to answer');
    const ms = Date.now() - t0;
    console.log(`# legacyCoordinatorApi on → /status answers after ${ms} ms`);
    assert.ok(ms < 1000, `${ms} ms`);
    // AppProxyStatusResponse: exactly these fields.
    assert.deepEqual(Object.keys(on.body).sort(), ['advertise_address', 'api_version']);
    assert.equal(on.body.api_version, 'v2');
    assert.equal(on.body.advertise_address, t.url);
  });

  test('/v2/conf needs the shared secret (header, its Bearer/BackendAI forms, or a JWT signed with it)', async () => {
    const id = '11111111-0000-4000-8000-000000000001';
    const body = {
      kernel_host: '127.0.0.1',
      kernel_port: up.port,
      session: { id, user_uuid: USER, group_id: 'g', domain_name: 'default' },
    };
    const none = await legacy('POST', '/v2/conf', body, {});
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'AP_ERR_LEGACY_UNAUTHORIZED');
    const wrong = await legacy('POST', '/v2/conf', body, { 'x-backendai-token': 'nope' });
    assert.equal(wrong.body.code, 'AP_ERR_LEGACY_UNAUTHORIZED');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('x'));
    assert.equal((await legacy('POST', '/v2/conf', body, { authorization: `Bearer ${forged}` })).status, 401);
    assert.equal((await t.api('GET', `/v1/sessions/${id}`)).status, 404, 'refused calls registered nothing');

    const bearer = await legacy('POST', '/v2/conf', body, { 'x-backendai-token': `BackendAI ${SECRET}` });
    assert.equal(bearer.status, 200, JSON.stringify(bearer.body));
    assert.deepEqual(Object.keys(bearer.body), ['token']);
    const jwt = await new SignJWT({ iss: 'manager' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET));
    assert.equal((await legacy('POST', '/v2/conf', body, { authorization: `Bearer ${jwt}` })).status, 200);

    // The session is ours now, under Backend.AI's id, owned by Backend.AI's user.
    const s = await t.api('GET', `/v1/sessions/${id}`);
    assert.equal(s.status, 200);
    assert.equal(s.body.ownerId, USER);
    assert.equal(s.body.state, 'RUNNING');

    const bad = await legacy('POST', '/v2/conf', { ...body, kernel_port: 70000 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'AP_ERR_VALIDATION');
  });

  test('the handshake: JSON and 308 forms, the app behind the cookie, reuse, wrong session refused', async () => {
    const sid = '22222222-0000-4000-8000-000000000002';
    const c = await conf(sid);
    const wrongSession = await proxyAuth(c.body.token, '22222222-0000-4000-8000-000000000099', 'jupyter');
    assert.equal(wrongSession.status, 403);
    assert.equal(wrongSession.body.code, 'AP_ERR_LEGACY_TOKEN_INVALID');
    assert.equal((await proxyAuth('not-a-token', sid, 'jupyter')).status, 403);

    const a = await proxyAuth(c.body.token, sid, 'jupyter', '&redirect=/tree');
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual(Object.keys(a.body).sort(), ['redirect_url', 'reuse']);
    assert.equal(a.body.reuse, false);
    assert.equal(a.headers.get('access-control-allow-origin'), '*');
    const link = new URL(a.body.redirect_url);
    assert.equal(link.pathname, '/_appproxy/setup', 'integrated flow (the default): our setup link');

    const jar = new CookieJar();
    assert.equal((await get(link.origin, jar)).status, 401, 'no cookie, no app');
    const setup = await request(a.body.redirect_url, { jar });
    assert.equal(setup.status, 302);
    assert.equal(setup.headers.location, '/tree');
    const app = await get(link.origin, jar, '/tree');
    assert.equal(app.status, 200);
    assert.match(app.text, /hello from \/tree/);
    const replay = await request(a.body.redirect_url, { jar: new CookieJar() });
    assert.equal(replay.status, 401, 'single use');
    assert.match(replay.text, /AP_ERR_SETUP_TOKEN_USED/);

    // The 308 form (a browser navigating to it), and reuse of the live circuit.
    const c2 = await conf(sid);
    const redirect = await legacy(
      'GET',
      `/v2/proxy/auth?token=${c2.body.token}&session_id=${sid}&app=jupyter&protocol=http`,
      undefined,
      {},
    );
    assert.equal(redirect.status, 308);
    assert.equal(new URL(redirect.headers.get('location')!).origin, link.origin, 'the same circuit');
    const again = await proxyAuth(c2.body.token, sid, 'jupyter');
    assert.equal(again.body.reuse, true);
  });

  test('rollback: integratedFlow flipped both ways; every circuit keeps its flow and keeps serving', async () => {
    const sid = '33333333-0000-4000-8000-000000000003';
    const bob = '3b7a9f3e-1c4d-4e5f-8a6b-7c8d9e0f1a2c';
    const integrated = await openApp(sid, 'lab', bob);
    assert.equal(integrated.url.pathname, '/_appproxy/setup');
    assert.ok(integrated.jar.names(integrated.url.origin).some((n) => n.startsWith('appproxy_')));

    await setFlag('integratedFlow', false);
    const t0 = Date.now();
    // New circuits follow the flag as soon as the manager sees it.
    const legacyApp = await until(async () => {
      const o = await openApp(sid, `vscode${Date.now() % 1000}`, bob);
      return o.url.pathname === '/setup' ? o : undefined;
    }, 'a new circuit to get the legacy flow');
    console.log(`# integratedFlow off → the next new circuit is legacy after ${Date.now() - t0} ms`);
    assert.ok(legacyApp.url.searchParams.get('token'));
    assert.deepEqual(legacyApp.jar.names(legacyApp.url.origin), ['appproxy_permit']);
    assert.equal((await get(legacyApp.url.origin, legacyApp.jar)).status, 200, 'the legacy app serves');
    assert.equal(
      (await get(integrated.url.origin, integrated.jar)).status,
      200,
      'the integrated one still does',
    );
    // Reusing the integrated circuit under the legacy flag: it keeps its flow (our setup link).
    const reused = await openApp(sid, 'lab', bob);
    assert.equal(reused.reuse, true);
    assert.equal(reused.url.pathname, '/_appproxy/setup');

    // The permit is the user's: another legacy app of theirs on the same host takes it too,
    // an integrated one never does.
    const legacy2 = await openApp(sid, 'tensorboard', bob);
    assert.equal(legacy2.url.pathname, '/setup');
    if (legacy2.url.hostname === legacyApp.url.hostname) {
      // Cookies are per host, not per port: the second app's permit reaches the first app's port.
      const shared = legacy2.jar.header(legacy2.url.origin)!;
      const r = await request(`${legacyApp.url.origin}/`, { headers: { cookie: shared } });
      assert.equal(r.status, 200, 'one permit, both legacy apps');
    }
    const permit = legacyApp.jar.header(legacyApp.url.origin)!;
    const viaPermit = await request(`${integrated.url.origin}/`, { headers: { cookie: permit } });
    assert.equal(viaPermit.status, 401, 'a permit never opens an integrated circuit');
    // Backend.AI's /setup path is the worker's on legacy circuits only: an integrated app keeps its own.
    const appsOwn = await get(integrated.url.origin, integrated.jar, '/setup?token=x');
    assert.equal(appsOwn.status, 200);
    assert.match(appsOwn.text, /hello from \/setup/);
    const bogus = await get(legacyApp.url.origin, legacyApp.jar, '/setup?token=x');
    assert.equal(bogus.status, 401);
    assert.match(bogus.text, /AP_ERR_SETUP_TOKEN_INVALID/);

    await setFlag('integratedFlow', true);
    const back = await until(async () => {
      const o = await openApp(sid, `notebook${Date.now() % 1000}`, bob);
      return o.url.pathname === '/_appproxy/setup' ? o : undefined;
    }, 'new circuits to be integrated again');
    assert.equal((await get(back.url.origin, back.jar)).status, 200);
    assert.equal((await get(legacyApp.url.origin, legacyApp.jar)).status, 200, 'legacy circuit still serves');
    assert.equal((await get(integrated.url.origin, integrated.jar)).status, 200);

    // The surface itself turned off and on: what it created keeps serving meanwhile.
    await setFlag('legacyCoordinatorApi', false);
    await until(async () => ((await legacy('GET', '/status')).status === 503 ? true : undefined), '503');
    assert.equal((await get(legacyApp.url.origin, legacyApp.jar)).status, 200);
    assert.equal((await get(integrated.url.origin, integrated.jar)).status, 200);
    await setFlag('legacyCoordinatorApi', true);
    await until(async () => ((await legacy('GET', '/status')).status === 200 ? true : undefined), '200');

    const circuits = (await t.api('GET', `/v1/circuits?sessionId=${sid}`)).body.items;
    const flows = new Set(circuits.map((c: { flow: string }) => c.flow));
    assert.deepEqual(flows, new Set(['integrated', 'legacy']));

    // Logout reaches the integrated flow's cookies only: ending the sign-in the handshake made
    // (one per Backend.AI login token) refuses them; the legacy permit lives on, as it does in
    // Backend.AI.
    const logins = (await t.api('GET', `/v1/login-sessions?user=${bob}&live=true`)).body.items;
    assert.equal(logins.length, 1, 'one sign-in per Backend.AI login token');
    assert.equal((await t.api('DELETE', `/v1/login-sessions/${logins[0].id}`)).status, 200);
    await until(
      async () => ((await get(integrated.url.origin, integrated.jar)).status === 401 ? true : undefined),
      'the integrated cookie to be refused',
    );
    assert.equal((await get(legacyApp.url.origin, legacyApp.jar)).status, 200);
  });

  test("Backend.AI's idle checker keys move with activity", async () => {
    const sid = '44444444-0000-4000-8000-000000000004';
    const o = await openApp(sid, 'idlecheck');
    const counters = t.sys.stores.counters;
    const circuitId = (await t.api('GET', `/v1/circuits?sessionId=${sid}`)).body.items[0].id;
    await get(o.url.origin, o.jar);
    const first = Number(
      await until(
        () => counters.get(`session.${sid}.last_access`).then((v) => v ?? undefined),
        'session key',
      ),
    );
    assert.ok(Math.abs(first - Date.now() / 1000) < 10, `epoch seconds: ${first}`);
    assert.ok(await counters.get(`circuit.${circuitId}.last_access`));
    await new Promise((r) => setTimeout(r, 1100));
    await get(o.url.origin, o.jar);
    await until(async () => {
      const v = Number(await counters.get(`session.${sid}.last_access`));
      return v > first ? v : undefined;
    }, 'the session key to move');
  });

  test('endpoints: bulk create, routes sync and deltas, health check, a minted token, delete — on a real endpoint', async () => {
    let sim: Sim | null = null;
    try {
      sim = await startSim(['--time-scale', '0']);
      const dep = '55555555-0000-4000-8000-000000000005';
      const item = {
        endpoint_id: dep, // the older name
        version: 'v2',
        service_name: 'My-LLM',
        tags: {
          session: { user_uuid: USER, group_id: 'g', domain_name: 'default' },
          endpoint: { id: dep, runtime_variant: 'vllm', existing_url: null },
        },
        open_to_public: false,
        health_check: null,
      };
      const created = await legacy('POST', '/v2/endpoints/bulk', { endpoints: [item] });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      assert.equal(created.body.endpoints.length, 1);
      const out = created.body.endpoints[0];
      assert.deepEqual(Object.keys(out).sort(), ['deployment_id', 'health_check_enabled', 'url']);
      assert.equal(out.deployment_id, dep);
      assert.equal(out.health_check_enabled, false);
      const url: string = out.url;
      // Idempotent on the deployment id (the same URL).
      const again = await legacy('POST', `/v2/endpoints/${dep}`, item);
      assert.deepEqual(again.body, { success: true, endpoint: url, health_check_enabled: false });
      assert.equal((await legacy('POST', '/v2/endpoints/bulk', { endpoints: [item] }, {})).status, 401);
      // The current field names (deployment_id, project_id) and fields a later Backend.AI adds are taken too.
      const dep2 = '55555555-0000-4000-8000-0000000000b2';
      const current = await legacy('POST', '/v2/endpoints/bulk', {
        endpoints: [
          {
            deployment_id: dep2,
            service_name: 'second',
            tags: { session: { user_uuid: USER, project_id: 'p', domain_name: 'd' }, endpoint: { id: dep2 } },
            some_future_field: { x: 1 },
          },
        ],
      });
      assert.equal(current.status, 200, JSON.stringify(current.body));
      assert.equal(current.body.endpoints[0].deployment_id, dep2);
      const missing = await legacy('POST', '/v2/endpoints/bulk', {
        endpoints: [{ service_name: 'x', tags: item.tags }],
      });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.detail[0].field, '/endpoints/0/deployment_id');

      const minted = await legacy('POST', `/v2/endpoints/${dep}/token`, {
        user_uuid: USER,
        exp: new Date(Date.now() + 3600_000).toISOString(),
      });
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      const ask = async (scheme = 'BackendAI') =>
        fetch(`${url}v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `${scheme} ${minted.body.token}` },
          body: JSON.stringify({
            model: 'sim-model',
            messages: [{ role: 'user', content: 'hi' }],
            max_tokens: 2,
          }),
        });

      const route = {
        session_id: '66666666-0000-4000-8000-000000000006',
        route_id: '77777777-0000-4000-8000-000000000007',
        kernel_host: '127.0.0.1',
        kernel_port: sim.port,
      };
      const reg = await legacy('POST', '/v2/endpoints/bulk/routes/register', {
        endpoints: [{ deployment_id: dep, routes: [route, route] }],
      });
      assert.equal(reg.status, 200, JSON.stringify(reg.body));
      assert.deepEqual(reg.body.endpoints[0], {
        deployment_id: dep,
        success: true,
        error: null,
        registered_route_ids: [route.route_id],
        already_registered_route_ids: [],
      });
      await until(async () => ((await ask()).status === 200 ? true : undefined), 'the route to serve');
      assert.equal((await ask('Bearer')).status, 200);
      const again2 = await legacy('POST', '/v2/endpoints/bulk/routes/register', {
        endpoints: [{ deployment_id: dep, routes: [route] }],
      });
      assert.deepEqual(again2.body.endpoints[0].already_registered_route_ids, [route.route_id]);

      const unreg = await legacy('POST', '/v2/endpoints/bulk/routes/unregister', {
        endpoints: [{ deployment_id: dep, route_ids: [route.route_id, 'gone-route'] }],
      });
      assert.deepEqual(unreg.body.endpoints[0], {
        deployment_id: dep,
        success: true,
        error: null,
        unregistered_route_ids: [route.route_id],
        already_absent_route_ids: ['gone-route'],
      });
      const ep = await t.api('GET', `/v1/endpoints/${dep}`);
      assert.deepEqual(ep.body.routes, []);

      // The authoritative set; an unknown deployment fails on its own.
      const sync = await legacy('POST', '/v2/endpoints/bulk/routes', {
        endpoints: [
          { deployment_id: dep, routes: [route] },
          { deployment_id: '00000000-0000-4000-8000-0000000000aa', routes: [] },
        ],
      });
      assert.equal(sync.body.endpoints[0].success, true);
      assert.equal(sync.body.endpoints[1].success, false);
      assert.match(sync.body.endpoints[1].error, /AP_ERR_ENDPOINT_NOT_FOUND/);
      await until(async () => ((await ask()).status === 200 ? true : undefined), 'the synced route to serve');

      const hc = await legacy('PUT', `/v2/endpoints/${dep}/health-check`, {
        health_check: {
          path: '/health',
          interval: 5,
          max_retries: 3,
          max_wait_time: 2,
          expected_status_code: 200,
        },
      });
      assert.deepEqual(hc.body, { success: true, health_check_enabled: true });
      const settings = (await t.api('GET', `/v1/endpoints/${dep}`)).body.settings;
      assert.equal(settings.healthCheck.path, '/health');
      assert.equal(settings.healthCheck.intervalMs, 5000);
      assert.equal(settings.healthCheck.unhealthyThreshold, 3);

      const del = await legacy('DELETE', '/v2/endpoints/bulk', { endpoints: [{ deployment_id: dep }] });
      assert.deepEqual(del.body.endpoints, [{ deployment_id: dep, success: true, error: null }]);
      const del2 = await legacy('DELETE', '/v2/endpoints/bulk', { endpoints: [{ deployment_id: dep }] });
      assert.equal(del2.body.endpoints[0].success, true, 'already gone counts as done');
      const closed = await ask().then(
        (r) => r.status,
        () => 0,
      );
      assert.notEqual(closed, 200, 'the URL is closed');
    } finally {
      await sim?.stop();
    }
  });
});
