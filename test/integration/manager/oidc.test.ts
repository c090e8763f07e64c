/**
 * Sign-in with an OpenID Connect provider and its back-channel logout, against a real provider
 * (`oidc-provider` on loopback) and a manager listening on loopback (the provider calls its
 * back-channel URI). The browser is a small cookie jar that follows redirects by hand and fills
 * the provider's login and consent forms.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RevocationRecord } from '../../../src/contracts/auth.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { startOidcProvider, type TestOidcProvider } from '../../support/oidc-provider.ts';
import { ADMIN_TOKEN, ManagerHarness } from './harness.ts';

const CLIENT_ID = 'appproxy-test';
const CLIENT_SECRET = 'appproxy-test-secret-0123456789';
const BCL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Cookies per origin (host:port), as a browser keeps them (paths aside). */
class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  jar(url: string): Map<string, string> {
    const host = new URL(url).host;
    const j = this.jars.get(host) ?? new Map<string, string>();
    this.jars.set(host, j);
    return j;
  }

  async request(url: string, form?: Record<string, string>): Promise<Response> {
    const jar = this.jar(url);
    const headers: Record<string, string> = {};
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      headers,
      redirect: 'manual',
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        if (/^max-age$/i.test(k!)) return Number(v) <= 0;
        if (/^expires$/i.test(k!)) return Date.parse(a.trim().slice(8)) <= Date.now();
        return false;
      });
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }
}

const location = (res: Response, base: string) => new URL(res.headers.get('location')!, base).href;

describe('sign-in with an OpenID Connect provider', () => {
  let op: TestOidcProvider;
  let h: ManagerHarness;
  let base: string;

  before(async () => {
    op = await startOidcProvider();
    h = await ManagerHarness.create({
      manager: {
        auth: {
          oidc: {
            issuer: op.issuer,
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
            scopes: ['openid', 'profile', 'email'],
            nameClaim: 'preferred_username',
            groupsClaim: 'groups',
            adminGroups: ['appproxy-admins'],
            label: 'Sign in with the test provider',
            autoCreateUsers: true,
          },
        },
      },
    });
    await h.manager.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(h.manager.app.server.address() as AddressInfo).port}`;
    h.manager.setPublicUrl(base);
    op.register({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: `${base}/login/oidc/callback`,
      backchannelLogoutUri: `${base}/v1/auth/oidc/backchannel-logout`,
    });
  });

  after(async () => {
    await h.close();
    await op.close();
  });

  /** From `/login/oidc` through the provider's forms to the URL it sends the browser back to. */
  async function toCallback(b: Browser, login: string, next = '/'): Promise<string> {
    const start = await b.request(`${base}/login/oidc?next=${encodeURIComponent(next)}`);
    assert.equal(start.status, 303, await start.text());
    assert.ok(b.jar(base).has('appproxy_oidc'), 'the flow cookie is set');
    let url = location(start, base);
    assert.ok(url.startsWith(op.issuer), url);
    for (let i = 0; i < 20; i++) {
      if (url.startsWith(`${base}/login/oidc/callback`)) return url;
      let res = await b.request(url);
      if (res.status === 200) {
        const page = await res.text();
        const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
        const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
        assert.ok(action && prompt, page);
        res = await b.request(
          new URL(action, url).href,
          prompt === 'login' ? { prompt, login, password: 'anything' } : { prompt },
        );
      }
      assert.ok(res.status >= 300 && res.status < 400, `${res.status} at ${url}: ${await res.text()}`);
      url = location(res, url);
    }
    throw new Error('the provider never sent the browser back');
  }

  async function signIn(b: Browser, login: string, next = '/') {
    const res = await b.request(await toCallback(b, login, next));
    assert.equal(res.status, 303, await res.text());
    const cookie = b.jar(base).get('appproxy_login');
    assert.ok(cookie, 'the login cookie is set');
    assert.ok(!b.jar(base).has('appproxy_oidc'), 'the flow cookie is dropped');
    return { location: res.headers.get('location'), cookie };
  }

  async function whoami(cookie: string) {
    const res = await h.manager.app.inject({
      method: 'GET',
      url: '/v1/auth/whoami',
      headers: { cookie: `appproxy_login=${cookie}` },
    });
    return { status: res.statusCode, body: JSON.parse(res.body) };
  }

  test('the sign-in page links to the provider', async () => {
    const res = await h.manager.app.inject({ method: 'GET', url: '/login?next=/x' });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /href="\/login\/oidc\?next=%2Fx"/);
    assert.match(res.body, /Sign in with the test provider/);
  });

  test('a first sign-in creates the user and an oidc login session; the cookie authenticates the API', async () => {
    op.accounts.set('alice', {
      preferred_username: 'Alice',
      name: 'Alice Liddell',
      email: 'alice@example.test',
      groups: ['staff'],
    });
    const b = new Browser();
    const { location: next, cookie } = await signIn(b, 'alice', '/cli-login?code=ABCD');
    assert.equal(next, '/cli-login?code=ABCD');
    const who = await whoami(cookie);
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.equal(who.body.via, 'cookie');
    assert.equal(who.body.user.name, 'alice');
    assert.equal(who.body.user.displayName, 'Alice Liddell');
    assert.equal(who.body.user.role, 'user');
    assert.equal(who.body.user.identityProvider, op.issuer);
    assert.equal(who.body.user.hasPassword, false);
    assert.equal(who.body.loginSession.kind, 'oidc');
    const { rows } = await h.sql.query<{ oidc_subject: string; oidc_sid: string | null }>(
      'SELECT oidc_subject, oidc_sid FROM login_sessions WHERE id = $1',
      [who.body.loginSession.id],
    );
    assert.equal(rows[0]!.oidc_subject, 'alice');
    assert.ok(rows[0]!.oidc_sid, 'the provider session id is kept (back-channel logout by sid)');
  });

  test('the admin group gives the admin role; a second sign-in finds the same user and follows its groups', async () => {
    op.accounts.set('bob', { preferred_username: 'bob', groups: ['staff', 'appproxy-admins'] });
    const first = await signIn(new Browser(), 'bob');
    const who1 = await whoami(first.cookie);
    assert.equal(who1.body.user.role, 'admin');

    op.accounts.set('bob', { preferred_username: 'bob', groups: ['staff'] });
    const second = await signIn(new Browser(), 'bob');
    const who2 = await whoami(second.cookie);
    assert.equal(who2.body.user.id, who1.body.user.id, 'the same user');
    assert.equal(who2.body.user.role, 'user', 'the role follows the groups at every sign-in');
    assert.notEqual(who2.body.loginSession.id, who1.body.loginSession.id);
    const { rows } = await h.sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM users WHERE oidc_subject = 'bob'",
    );
    assert.equal(rows[0]!.n, 1);
  });

  test('a name another user has is never linked: the new user gets a suffix', async () => {
    const created = await h.api(
      'POST',
      '/v1/users',
      { name: 'erin', password: 'erin-password-123' },
      ADMIN_TOKEN,
    );
    assert.equal(created.status, 201, created.text);
    op.accounts.set('erin-at-idp', { preferred_username: 'Erin', groups: ['appproxy-admins'] });
    const { cookie } = await signIn(new Browser(), 'erin-at-idp');
    const who = await whoami(cookie);
    assert.notEqual(who.body.user.id, created.body.id);
    assert.match(who.body.user.name, /^erin-[0-9a-f]{6}$/);
    const erin = await h.api('GET', `/v1/users/${created.body.id}`);
    assert.equal(erin.body.identityProvider, null, 'the password user is untouched');
    assert.equal(erin.body.role, 'user');
  });

  test('a disabled user is refused', async () => {
    op.accounts.set('dave', { preferred_username: 'dave' });
    const { cookie } = await signIn(new Browser(), 'dave');
    const id = (await whoami(cookie)).body.user.id as string;
    const off = await h.api('PATCH', `/v1/users/${id}`, { disabled: true });
    assert.equal(off.status, 200, off.text);
    const b = new Browser();
    const res = await b.request(await toCallback(b, 'dave'));
    assert.equal(res.status, 401);
    assert.match(await res.text(), /AP_ERR_OIDC_FAILED/);
    assert.ok(!b.jar(base).has('appproxy_login'));
  });

  test('a forged or altered state is refused', async () => {
    op.accounts.set('mallory', { preferred_username: 'mallory' });
    // The state in the callback is not the one this browser started with.
    const b1 = new Browser();
    const url = new URL(await toCallback(b1, 'mallory'));
    url.searchParams.set('state', 'forged-state');
    const forged = await b1.request(url.href);
    assert.equal(forged.status, 401);
    assert.match(await forged.text(), /AP_ERR_OIDC_FAILED/);
    assert.ok(!b1.jar(base).has('appproxy_login'));

    // The flow cookie was altered (its signature no longer holds).
    const b2 = new Browser();
    const callback = await toCallback(b2, 'mallory');
    const flow = b2.jar(base).get('appproxy_oidc')!;
    const [head, body, sig] = flow.split('.');
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString());
    claims.next = '/elsewhere';
    b2.jar(base).set(
      'appproxy_oidc',
      `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`,
    );
    const altered = await b2.request(callback);
    assert.equal(altered.status, 401);
    assert.ok(!b2.jar(base).has('appproxy_login'));

    // Another browser's callback (login CSRF): this browser has no flow cookie at all.
    const b3 = new Browser();
    const stolen = await new Browser().request(await toCallback(b3, 'mallory'));
    assert.equal(stolen.status, 401);
  });

  test("the provider's back-channel logout ends the login session on every worker", async () => {
    op.accounts.set('carol', { preferred_username: 'carol' });
    const b = new Browser();
    const { cookie } = await signIn(b, 'carol');
    const who = await whoami(cookie);
    assert.equal(who.status, 200);
    const loginSessionId = who.body.loginSession.id as string;

    // RP-initiated logout at the provider's end-session endpoint; the provider then calls our
    // back-channel URI before it answers the confirmation.
    const end = await b.request(`${op.issuer}/session/end?client_id=${CLIENT_ID}`);
    const page = await end.text();
    assert.equal(end.status, 200, page);
    const action = /<form id="op.logoutForm" method="post" action="([^"]+)"/.exec(page)![1]!;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)![1]!;
    const confirm = await b.request(new URL(action, op.issuer).href, { xsrf, logout: 'yes' });
    assert.ok(confirm.status >= 300 && confirm.status < 400, String(confirm.status));
    assert.deepEqual(op.backchannelErrors, []);

    assert.equal((await whoami(cookie)).status, 401, 'the login cookie no longer works');
    const { rows } = await h.sql.query<{ end_reason: string }>(
      'SELECT end_reason FROM login_sessions WHERE id = $1',
      [loginSessionId],
    );
    assert.equal(rows[0]!.end_reason, 'idp-logout');
    const { entries } = await h.kv.getPrefix(kvKeys.revocations());
    const records = entries.map((e) => JSON.parse(e.value) as RevocationRecord);
    assert.ok(
      records.some(
        (r) => r.kind === 'login-session' && r.subject === loginSessionId && r.reason === 'idp-logout',
      ),
      JSON.stringify(records),
    );
  });

  test('invalid logout tokens are refused with 400 (audience, events, replayed jti, nonce, foreign key)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const valid = (extra: Record<string, unknown> = {}) => ({
      iss: op.issuer,
      aud: CLIENT_ID,
      iat: now,
      exp: now + 120,
      jti: randomUUID(),
      sub: 'nobody',
      events: { [BCL_EVENT]: {} },
      ...extra,
    });
    const post = async (token: string) => {
      const res = await fetch(`${base}/v1/auth/oidc/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }).toString(),
      });
      return { status: res.status, cache: res.headers.get('cache-control'), body: await res.text() };
    };

    const ok = await op.signLogoutToken(valid({ jti: 'replayed-jti' }));
    const first = await post(ok);
    assert.equal(first.status, 200, first.body);
    assert.equal(first.cache, 'no-store');
    const replay = await post(ok);
    assert.equal(replay.status, 400);
    assert.equal(JSON.parse(replay.body).error, 'invalid_request');
    assert.equal(replay.cache, 'no-store');

    const { events: _e, ...noEvents } = valid();
    const bad: [string, string][] = [
      ['wrong audience', await op.signLogoutToken(valid({ aud: 'someone-else' }))],
      ['no events claim', await op.signLogoutToken(noEvents)],
      ['another event', await op.signLogoutToken(valid({ events: { 'urn:other': {} } }))],
      ['a nonce', await op.signLogoutToken(valid({ nonce: 'n' }))],
      ['neither sub nor sid', await op.signLogoutToken(valid({ sub: undefined }))],
      ['no jti', await op.signLogoutToken(valid({ jti: undefined }))],
      ['issued long ago', await op.signLogoutToken(valid({ iat: now - 3600, exp: now + 60 }))],
      ['another issuer', await op.signLogoutToken(valid({ iss: 'http://127.0.0.1:1' }))],
      [
        'altered payload',
        ok.replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify(valid())).toString('base64url')}.`),
      ],
      ['not a JWT', 'not-a-jwt'],
    ];
    for (const [what, token] of bad) {
      const res = await post(token);
      assert.equal(res.status, 400, `${what}: ${res.body}`);
      assert.equal(JSON.parse(res.body).error, 'invalid_request', what);
    }
    const missing = await fetch(`${base}/v1/auth/oidc/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    assert.equal(missing.status, 400);
  });
});

describe('discovery of the provider', () => {
  test('is lazy and tried again after a failure', async () => {
    const op = await startOidcProvider();
    const h = await ManagerHarness.create({
      manager: {
        auth: {
          publicUrl: 'http://127.0.0.1:9',
          oidc: {
            issuer: op.issuer,
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
            scopes: ['openid'],
            nameClaim: 'preferred_username',
            groupsClaim: 'groups',
            adminGroups: [],
            label: 'SSO',
            autoCreateUsers: true,
          },
        },
      },
    });
    try {
      // The provider does not answer yet (503): the manager started all the same.
      const down = await h.manager.app.inject({ method: 'GET', url: '/login/oidc' });
      assert.equal(down.statusCode, 401);
      assert.match(down.body, /AP_ERR_OIDC_FAILED/);
      op.register({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUri: 'http://127.0.0.1:9/login/oidc/callback',
        backchannelLogoutUri: 'http://127.0.0.1:9/v1/auth/oidc/backchannel-logout',
      });
      const up = await h.manager.app.inject({ method: 'GET', url: '/login/oidc?next=/x' });
      assert.equal(up.statusCode, 303, up.body);
      const to = new URL(String(up.headers.location));
      assert.equal(to.origin, op.issuer);
      assert.equal(to.searchParams.get('redirect_uri'), 'http://127.0.0.1:9/login/oidc/callback');
      assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
      assert.ok(
        to.searchParams.get('state') && to.searchParams.get('nonce') && to.searchParams.get('code_challenge'),
      );
      const flow = ([] as string[])
        .concat(up.headers['set-cookie'] as string[])
        .find((c) => c.startsWith('appproxy_oidc='));
      assert.match(flow!, /HttpOnly/);
      assert.match(flow!, /SameSite=Lax/);
      assert.match(flow!, /Max-Age=600/);
    } finally {
      await h.close();
      await op.close();
    }
  });
});

describe('without an OpenID Connect provider', () => {
  let h: ManagerHarness;
  before(async () => {
    h = await ManagerHarness.create();
  });
  after(async () => {
    await h.close();
  });

  test('the sign-in page has no provider link and the routes say it is not configured', async () => {
    const login = await h.manager.app.inject({ method: 'GET', url: '/login' });
    assert.doesNotMatch(login.body, /\/login\/oidc/);
    const start = await h.manager.app.inject({ method: 'GET', url: '/login/oidc' });
    assert.equal(start.statusCode, 404);
    assert.match(start.body, /AP_ERR_OIDC_NOT_CONFIGURED/);
    const bcl = await h.manager.app.inject({
      method: 'POST',
      url: '/v1/auth/oidc/backchannel-logout',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'logout_token=x',
    });
    assert.equal(bcl.statusCode, 404);
    assert.equal(JSON.parse(bcl.body).code, 'AP_ERR_OIDC_NOT_CONFIGURED');
  });
});
