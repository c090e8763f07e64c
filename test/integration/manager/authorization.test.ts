/**
 * Authorization over every API route × every kind of caller: nobody, another user, the owner, an
 * admin, and the owner's revoked token, expired token and ended login session. The table names
 * every route of the OpenAPI document; a route added without an entry fails this test, so nobody
 * adds an endpoint without deciding who may call it.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, type InjectResult, ManagerHarness } from './harness.ts';

/**
 * public: anyone; any: any signed-in caller; admin: admins only; owner: the resource's owner or an
 * admin; legacy: the Backend.AI-compatible surface, closed to everyone (AppProxy credentials
 * included) while `legacyCoordinatorApi` is off, its default (its shared secret: legacy.test.ts).
 */
type Rule = 'public' | 'any' | 'admin' | 'owner' | 'legacy';

interface Resources {
  userId: string;
  /** The owner's API token and login session secret. */
  token: string;
  sessionId: string;
  circuitId: string;
  tokenId: string;
  loginSessionId: string;
  logoutUriId: string;
  endpointId: string;
  endpointKeyId: string;
}

interface Case {
  rule: Rule;
  path?: (r: Resources) => string;
  body?: (r: Resources) => unknown;
  /** Changes or ends the resource: every caller allowed to gets fresh resources. */
  mutates?: boolean;
}

const TABLE: Record<string, Case> = {
  'GET /healthz': { rule: 'public' },
  'GET /readyz': { rule: 'public' },
  'GET /metrics': { rule: 'public' },
  'GET /openapi.json': { rule: 'public' },
  'GET /status': { rule: 'legacy' },
  'POST /v2/conf': { rule: 'legacy' },
  'GET /v2/proxy/auth': { rule: 'legacy' },
  'POST /v2/endpoints/bulk': { rule: 'legacy' },
  'DELETE /v2/endpoints/bulk': { rule: 'legacy' },
  'POST /v2/endpoints/bulk/routes': { rule: 'legacy' },
  'POST /v2/endpoints/bulk/routes/register': { rule: 'legacy' },
  'POST /v2/endpoints/bulk/routes/unregister': { rule: 'legacy' },
  'POST /v2/endpoints/{id}': { rule: 'legacy', path: () => '/v2/endpoints/d-1' },
  'DELETE /v2/endpoints/{id}': { rule: 'legacy', path: () => '/v2/endpoints/d-1' },
  'PUT /v2/endpoints/{id}/health-check': { rule: 'legacy', path: () => '/v2/endpoints/d-1/health-check' },
  'POST /v2/endpoints/{id}/token': { rule: 'legacy', path: () => '/v2/endpoints/d-1/token' },
  'POST /v1/auth/login': { rule: 'public', body: () => ({ name: 'nobody', password: 'nothing-here' }) },
  'POST /v1/auth/logout': { rule: 'any', body: () => ({}), mutates: true },
  'GET /v1/auth/whoami': { rule: 'any' },
  'POST /v1/auth/cli-login': { rule: 'public', body: () => ({ publicKey: 'A'.repeat(43) }) },
  'POST /v1/auth/cli-login/poll': { rule: 'public', body: () => ({ deviceCode: 'not-a-device-code' }) },
  // The identity provider's call: its signed logout token is the credential (oidc.test.ts).
  'POST /v1/auth/oidc/backchannel-logout': { rule: 'public' },
  'GET /v1/users': { rule: 'admin' },
  'POST /v1/users': { rule: 'admin', body: () => ({ name: `u${Math.random().toString(36).slice(2, 10)}` }) },
  'GET /v1/users/{id}': { rule: 'owner', path: (r) => `/v1/users/${r.userId}` },
  'PATCH /v1/users/{id}': {
    rule: 'owner',
    path: (r) => `/v1/users/${r.userId}`,
    body: () => ({ displayName: 'X' }),
  },
  'DELETE /v1/users/{id}': { rule: 'admin', path: (r) => `/v1/users/${r.userId}`, mutates: true },
  'PUT /v1/users/{id}/password': {
    rule: 'owner',
    path: (r) => `/v1/users/${r.userId}/password`,
    body: () => ({ password: 'a-new-password' }),
    mutates: true,
  },
  'GET /v1/tokens': { rule: 'any' },
  'POST /v1/tokens': { rule: 'any', body: () => ({ name: 'more' }) },
  'DELETE /v1/tokens/{id}': { rule: 'owner', path: (r) => `/v1/tokens/${r.tokenId}`, mutates: true },
  'GET /v1/login-sessions': { rule: 'any' },
  'POST /v1/login-sessions': { rule: 'admin', body: (r) => ({ user: r.userId }) },
  'GET /v1/login-sessions/{id}': { rule: 'owner', path: (r) => `/v1/login-sessions/${r.loginSessionId}` },
  'DELETE /v1/login-sessions/{id}': {
    rule: 'owner',
    path: (r) => `/v1/login-sessions/${r.loginSessionId}`,
    mutates: true,
  },
  'GET /v1/logout-uris': { rule: 'admin' },
  'POST /v1/logout-uris': {
    rule: 'admin',
    body: () => ({ uri: `https://p${Math.random().toString(36).slice(2, 8)}.example/logout` }),
  },
  'DELETE /v1/logout-uris/{id}': {
    rule: 'admin',
    path: (r) => `/v1/logout-uris/${r.logoutUriId}`,
    mutates: true,
  },
  'GET /v1/flags': { rule: 'admin' },
  'GET /v1/flags/changes': { rule: 'admin' },
  'GET /v1/flags/{name}': { rule: 'admin', path: () => '/v1/flags/liveEvents' },
  // Set to its default value: allowed callers change nothing another row depends on.
  'PUT /v1/flags/{name}': {
    rule: 'admin',
    path: () => '/v1/flags/endpointRetries',
    body: () => ({ value: true }),
  },
  'DELETE /v1/flags/{name}': { rule: 'admin', path: () => '/v1/flags/endpointRetries' },
  'GET /v1/sessions': { rule: 'any' },
  'POST /v1/sessions': { rule: 'any', body: () => ({ template: 'web' }) },
  'GET /v1/sessions/{id}': { rule: 'owner', path: (r) => `/v1/sessions/${r.sessionId}` },
  'DELETE /v1/sessions/{id}': { rule: 'owner', path: (r) => `/v1/sessions/${r.sessionId}`, mutates: true },
  'POST /v1/sessions/{id}/start-service': {
    rule: 'owner',
    path: (r) => `/v1/sessions/${r.sessionId}/start-service`,
    body: () => ({ service: 'http' }),
  },
  'GET /v1/sessions/{id}/events': { rule: 'owner', path: (r) => `/v1/sessions/${r.sessionId}/events` },
  'GET /v1/circuits': { rule: 'any' },
  'GET /v1/circuits/{id}': { rule: 'owner', path: (r) => `/v1/circuits/${r.circuitId}` },
  'DELETE /v1/circuits/{id}': { rule: 'owner', path: (r) => `/v1/circuits/${r.circuitId}`, mutates: true },
  'GET /v1/circuits/{id}/activity': { rule: 'owner', path: (r) => `/v1/circuits/${r.circuitId}/activity` },
  'PATCH /v1/circuits/{id}/access': {
    rule: 'owner',
    path: (r) => `/v1/circuits/${r.circuitId}/access`,
    body: () => ({ mode: 'tunnel' }),
  },
  'POST /v1/circuits/{id}/tunnel-token': {
    rule: 'owner',
    path: (r) => `/v1/circuits/${r.circuitId}/tunnel-token`,
  },
  'GET /v1/circuits/{id}/events': { rule: 'owner', path: (r) => `/v1/circuits/${r.circuitId}/events` },
  // A stream (server-sent events): what each caller sees of it is its visibility rule, tested in
  // live-events.test.ts; here, who may open it.
  'GET /v1/events/stream': { rule: 'any' },
  'GET /v1/endpoints': { rule: 'any' },
  'POST /v1/endpoints': {
    rule: 'any',
    body: () => ({ name: `e${Math.random().toString(36).slice(2, 10)}` }),
  },
  'GET /v1/endpoints/{id}': { rule: 'owner', path: (r) => `/v1/endpoints/${r.endpointId}` },
  'PATCH /v1/endpoints/{id}': {
    rule: 'owner',
    path: (r) => `/v1/endpoints/${r.endpointId}`,
    body: () => ({ settings: { balancing: 'round-robin' } }),
  },
  'DELETE /v1/endpoints/{id}': { rule: 'owner', path: (r) => `/v1/endpoints/${r.endpointId}`, mutates: true },
  'GET /v1/endpoints/{id}/events': { rule: 'owner', path: (r) => `/v1/endpoints/${r.endpointId}/events` },
  'GET /v1/endpoints/{id}/usage': { rule: 'owner', path: (r) => `/v1/endpoints/${r.endpointId}/usage` },
  'PUT /v1/endpoints/{id}/routes': {
    rule: 'owner',
    path: (r) => `/v1/endpoints/${r.endpointId}/routes`,
    body: (r) => ({ routes: [{ id: 'r1', session: r.sessionId, service: 'http' }] }),
  },
  'POST /v1/endpoints/{id}/routes': {
    rule: 'owner',
    path: (r) => `/v1/endpoints/${r.endpointId}/routes`,
    body: (r) => ({
      id: `r${Math.random().toString(36).slice(2, 8)}`,
      session: r.sessionId,
      service: 'http',
    }),
  },
  'DELETE /v1/endpoints/{id}/routes/{route}': {
    rule: 'owner',
    path: (r) => `/v1/endpoints/${r.endpointId}/routes/r1`,
    mutates: true,
  },
  'POST /v1/endpoints/{id}/tokens': {
    rule: 'owner',
    path: (r) => `/v1/endpoints/${r.endpointId}/tokens`,
    body: () => ({ name: 'k' }),
  },
  'GET /v1/endpoints/{id}/tokens': { rule: 'owner', path: (r) => `/v1/endpoints/${r.endpointId}/tokens` },
  'DELETE /v1/endpoints/{id}/tokens/{key}': {
    rule: 'owner',
    path: (r) => `/v1/endpoints/${r.endpointId}/tokens/${r.endpointKeyId}`,
    mutates: true,
  },
  'GET /v1/workers': { rule: 'admin' },
  'POST /v1/workers/{authority}/drain': { rule: 'admin', path: () => '/v1/workers/w2/drain' },
  'POST /v1/workers/{authority}/undrain': { rule: 'admin', path: () => '/v1/workers/w2/undrain' },
  'GET /v1/doctor': { rule: 'admin' },
  'GET /v1/templates': { rule: 'any' },
};

type Caller =
  | 'nobody'
  | 'other'
  | 'owner'
  | 'admin'
  | 'revoked token'
  | 'expired token'
  | 'ended login session';
const DENIED_AS_STRANGER: Caller[] = ['nobody', 'revoked token', 'expired token', 'ended login session'];

describe('authorization: every route × every caller', () => {
  let h: ManagerHarness;
  let n = 0;
  let otherToken = '';
  let base = '';
  before(async () => {
    h = await ManagerHarness.create({ workers: [{ authority: 'w1' }, { authority: 'w2' }] });
    otherToken = await h.addUser('other');
    // Streams never end by themselves: they are opened over a socket and closed after the head.
    await h.manager.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(h.manager.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await h.close();
  });

  const call = async (
    method: string,
    url: string,
    body: unknown,
    bearer: string | null,
  ): Promise<InjectResult> => {
    if (url !== '/v1/events/stream') return h.api(method, url, body, bearer);
    const ac = new AbortController();
    const res = await fetch(`${base}${url}`, {
      method,
      headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` },
      signal: ac.signal,
    });
    const text = res.ok ? '' : await res.text();
    ac.abort();
    return {
      status: res.status,
      headers: Object.fromEntries(res.headers),
      body: text ? JSON.parse(text) : undefined,
      text,
    } as InjectResult;
  };

  /** A fresh user with a session, a circuit, a spare token, a login session and a logout URI. */
  async function make(): Promise<Resources> {
    const name = `owner${++n}`;
    const user = await call('POST', '/v1/users', { name }, ADMIN_TOKEN);
    assert.equal(user.status, 201, user.text);
    const userId = user.body.id as string;
    const tok = await call('POST', '/v1/tokens', { name: 'main', user: userId }, ADMIN_TOKEN);
    const spare = await call('POST', '/v1/tokens', { name: 'spare', user: userId }, ADMIN_TOKEN);
    const login = await call('POST', '/v1/login-sessions', { user: userId }, ADMIN_TOKEN);
    const s = await call('POST', '/v1/sessions', { template: 'web' }, tok.body.token);
    assert.equal(s.status, 201, s.text);
    await until(
      async () =>
        (await call('GET', `/v1/sessions/${s.body.id}`, undefined, tok.body.token)).body.state === 'RUNNING',
    );
    const c = await call(
      'POST',
      `/v1/sessions/${s.body.id}/start-service`,
      { service: 'http' },
      tok.body.token,
    );
    assert.equal(c.status, 200, c.text);
    const uri = await call('POST', '/v1/logout-uris', { uri: `https://${name}.example/logout` }, ADMIN_TOKEN);
    const endpoint = await call(
      'POST',
      '/v1/endpoints',
      { name: `ep-${name}`, routes: [{ id: 'r1', session: s.body.id, service: 'http' }] },
      tok.body.token,
    );
    assert.equal(endpoint.status, 201, endpoint.text);
    const key = await call('POST', `/v1/endpoints/${endpoint.body.id}/tokens`, { name: 'k' }, tok.body.token);
    return {
      userId,
      token: tok.body.token,
      sessionId: s.body.id,
      circuitId: c.body.circuitId,
      tokenId: spare.body.id,
      loginSessionId: login.body.loginSession.id,
      logoutUriId: uri.body.id,
      endpointId: endpoint.body.id,
      endpointKeyId: key.body.id,
    };
  }

  async function until(f: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (await f()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('timed out');
  }

  /** Credentials of the owner that must not work any more. */
  async function deadCredentials(
    r: Resources,
  ): Promise<Record<'revoked token' | 'expired token' | 'ended login session', string>> {
    const rev = await call('POST', '/v1/tokens', { name: 'to-revoke', user: r.userId }, ADMIN_TOKEN);
    await call('DELETE', `/v1/tokens/${rev.body.id}`, undefined, ADMIN_TOKEN);
    const exp = await call(
      'POST',
      '/v1/tokens',
      { name: 'to-expire', user: r.userId, expiresIn: '1h' },
      ADMIN_TOKEN,
    );
    await h.sql.query(`UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, [
      exp.body.id,
    ]);
    const ls = await call('POST', '/v1/login-sessions', { user: r.userId }, ADMIN_TOKEN);
    await call('DELETE', `/v1/login-sessions/${ls.body.loginSession.id}`, undefined, ADMIN_TOKEN);
    return {
      'revoked token': rev.body.token,
      'expired token': exp.body.token,
      'ended login session': ls.body.token,
    };
  }

  test('the table names every route of the API, and nothing else', async () => {
    const doc = (await call('GET', '/openapi.json', undefined, null)).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths))
      for (const m of Object.keys(methods)) if (m !== 'head') routes.add(`${m.toUpperCase()} ${path}`);
    const missing = [...routes].filter((r) => !(r in TABLE));
    const stale = Object.keys(TABLE).filter((r) => !routes.has(r));
    assert.deepEqual(missing, [], `routes without an authorization entry: ${missing.join(', ')}`);
    assert.deepEqual(stale, [], `entries for routes that do not exist: ${stale.join(', ')}`);
  });

  for (const [route, c] of Object.entries(TABLE)) {
    test(`${route} (${c.rule})`, async () => {
      const [method, template] = route.split(' ') as [string, string];
      let r = await make();
      const dead = await deadCredentials(r);
      const bearer: Record<Caller, string | null> = {
        nobody: null,
        other: otherToken,
        owner: r.token,
        admin: ADMIN_TOKEN,
        ...dead,
      };
      const url = (res: Resources) => (c.path ? c.path(res) : template);
      const expectDenied = async (who: Caller, codes: number[]) => {
        const res = await call(method, url(r), c.body?.(r), bearer[who]);
        assert.ok(
          codes.includes(res.status),
          `${route} as ${who}: expected ${codes.join('/')}, got ${res.status} ${res.text}`,
        );
      };
      const expectAllowed = async (who: Caller) => {
        if (c.mutates) {
          r = await make();
          bearer.owner = r.token;
        }
        const res = await call(method, url(r), c.body?.(r), bearer[who]);
        assert.ok(
          ![401, 403].includes(res.status) && !/_NOT_FOUND$/.test(res.body?.code ?? ''),
          `${route} as ${who}: expected to be allowed, got ${res.status} ${res.text}`,
        );
      };

      if (c.rule === 'legacy') {
        for (const who of ['nobody', 'owner', 'admin'] as Caller[]) {
          const res = await call(method, url(r), c.body?.(r), bearer[who]);
          assert.equal(
            res.body?.code,
            'AP_ERR_FEATURE_DISABLED',
            `${route} as ${who}: ${res.status} ${res.text}`,
          );
        }
        return;
      }
      if (c.rule === 'public') {
        for (const who of ['nobody', 'owner'] as Caller[]) {
          const res = await call(method, url(r), c.body?.(r), bearer[who]);
          // A sign-in may well answer 401 for wrong credentials; what must not happen is asking for a token.
          const code = res.body?.code ?? '';
          assert.ok(
            !['AP_ERR_UNAUTHENTICATED', 'AP_ERR_TOKEN_INVALID', 'AP_ERR_FORBIDDEN'].includes(code),
            `${route} as ${who} needs no credentials: ${res.status} ${res.text}`,
          );
        }
        return;
      }
      for (const who of DENIED_AS_STRANGER) await expectDenied(who, [401]);
      if (c.rule === 'admin') {
        await expectDenied('other', [403]);
        await expectDenied('owner', [403]);
        await expectAllowed('admin');
      } else if (c.rule === 'owner') {
        await expectDenied('other', [403, 404]);
        await expectAllowed('owner');
        await expectAllowed('admin');
      } else {
        await expectAllowed('other');
        await expectAllowed('owner');
        await expectAllowed('admin');
      }
    });
  }
});
