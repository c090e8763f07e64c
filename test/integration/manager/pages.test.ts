/**
 * The manager's pages without a browser: sign-in with its anti-forgery cookie, the login cookie,
 * the signed-in page, CSRF on every cookie-authenticated change (pages and API alike), sign-out
 * into the logout chain, and `next` that never leaves the manager.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManagerHarness } from './harness.ts';

type Jar = Map<string, string>;

function absorb(jar: Jar, setCookie: unknown): void {
  for (const c of ([] as string[]).concat((setCookie as string[] | string | undefined) ?? [])) {
    const [pair] = c.split(';');
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    if (/Max-Age=0/i.test(c)) jar.delete(name);
    else jar.set(name, value);
  }
}

const cookieHeader = (jar: Jar) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

describe('manager pages', () => {
  let h: ManagerHarness;
  before(async () => {
    h = await ManagerHarness.create();
    await h.api('POST', '/v1/users', { name: 'erin', password: 'erin-password' });
  });
  after(async () => {
    await h.close();
  });

  async function get(jar: Jar, url: string) {
    const res = await h.manager.app.inject({ method: 'GET', url, headers: { cookie: cookieHeader(jar) } });
    absorb(jar, res.headers['set-cookie']);
    return res;
  }

  async function post(jar: Jar, url: string, form: Record<string, string>) {
    const res = await h.manager.app.inject({
      method: 'POST',
      url,
      headers: { cookie: cookieHeader(jar), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(form).toString(),
    });
    absorb(jar, res.headers['set-cookie']);
    return res;
  }

  const csrfOf = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';

  async function signIn(next = '/'): Promise<{ jar: Jar; location: string }> {
    const jar: Jar = new Map();
    const form = await get(jar, `/login?next=${encodeURIComponent(next)}`);
    assert.equal(form.statusCode, 200);
    const res = await post(jar, '/login', {
      _csrf: csrfOf(form.body),
      name: 'erin',
      password: 'erin-password',
      next,
    });
    assert.equal(res.statusCode, 303, res.body);
    assert.ok(jar.has('appproxy_login'), 'the login cookie is set');
    return { jar, location: String(res.headers.location) };
  }

  test('sign-in sets an HttpOnly, SameSite=Lax, host-only login cookie and lands on the signed-in page', async () => {
    const jar: Jar = new Map();
    const form = await get(jar, '/login');
    const res = await post(jar, '/login', {
      _csrf: csrfOf(form.body),
      name: 'erin',
      password: 'erin-password',
    });
    const set = ([] as string[])
      .concat(res.headers['set-cookie'] as string[])
      .find((c) => c.startsWith('appproxy_login='))!;
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Lax/);
    assert.doesNotMatch(set, /Domain=/i);
    const home = await get(jar, '/');
    assert.equal(home.statusCode, 200);
    assert.match(home.body, /Signed in as/);
    assert.match(String(home.headers['content-security-policy']), /default-src 'none'/);
    // The same cookie authenticates the API (reads need no anti-forgery token).
    const who = await h.manager.app.inject({
      method: 'GET',
      url: '/v1/auth/whoami',
      headers: { cookie: cookieHeader(jar) },
    });
    assert.equal(who.statusCode, 200, who.body);
    assert.equal(JSON.parse(who.body).via, 'cookie');
  });

  test('a sign-in form without its anti-forgery cookie is refused; a wrong password says so generically', async () => {
    const jar: Jar = new Map();
    const form = await get(jar, '/login');
    const token = csrfOf(form.body);
    const stranger = await post(new Map(), '/login', {
      _csrf: token,
      name: 'erin',
      password: 'erin-password',
    });
    assert.notEqual(stranger.statusCode, 303);
    assert.match(stranger.body, /expired/);
    const wrong = await post(jar, '/login', { _csrf: token, name: 'erin', password: 'nope-nope' });
    assert.equal(wrong.statusCode, 401);
    assert.match(wrong.body, /Wrong name or password/);
  });

  test('every next stays on the manager', async () => {
    for (const bad of [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      '/%2F%2Fevil.example',
      'javascript:alert(1)',
    ]) {
      const { location } = await signIn(bad);
      assert.equal(location, '/', `next=${bad} must not be followed`);
    }
    const { location } = await signIn('/cli-login?code=ABCD-EFGH');
    assert.equal(location, '/cli-login?code=ABCD-EFGH');
  });

  test('cookie-authenticated changes need the anti-forgery token (pages and API)', async () => {
    const { jar } = await signIn();
    const noToken = await post(jar, '/sessions', { template: 'web' });
    assert.equal(noToken.statusCode, 403);
    assert.match(noToken.body, /AP_ERR_CSRF/);
    const api = await h.manager.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { cookie: cookieHeader(jar), 'content-type': 'application/json' },
      payload: { template: 'web' },
    });
    assert.equal(api.statusCode, 403);
    assert.equal(JSON.parse(api.body).code, 'AP_ERR_CSRF');
    const csrf = JSON.parse(
      (
        await h.manager.app.inject({
          method: 'GET',
          url: '/v1/auth/whoami',
          headers: { cookie: cookieHeader(jar) },
        })
      ).body,
    ).csrfToken as string;
    const ok = await h.manager.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { cookie: cookieHeader(jar), 'content-type': 'application/json', 'x-csrf-token': csrf },
      payload: { template: 'web' },
    });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  test('sign-out ends the login session and walks the logout chain to the sign-in page', async () => {
    await h.api('POST', '/v1/logout-uris', { uri: 'http://127.0.0.1:9/bye', nextParam: null });
    const { jar } = await signIn();
    const home = await get(jar, '/');
    const out = await post(jar, '/logout', { _csrf: csrfOf(home.body) });
    assert.equal(out.statusCode, 303);
    assert.ok(!jar.has('appproxy_login'), 'the login cookie is cleared');
    const walk = String(out.headers.location);
    assert.match(walk, /\/logout\/walk\?state=/);
    const step = await get(new Map(), new URL(walk).pathname + new URL(walk).search);
    assert.equal(step.statusCode, 200);
    assert.match(step.body, /127\.0\.0\.1:9/);
    assert.match(String(step.headers['content-security-policy']), /script-src 'nonce-/);
    const after = /skip this step<\/a>/.test(step.body)
      ? /href="([^"]+)">skip this step/.exec(step.body)![1]!
      : '';
    assert.match(after.replaceAll('&amp;', '&'), /\/login\?signed_out=1$/);
    // A tampered chain is not followed.
    const forged = await get(
      new Map(),
      `/logout/walk?state=${encodeURIComponent('eyJhbGciOiJub25lIn0.e30.')}`,
    );
    assert.equal(forged.statusCode, 303);
    assert.equal(forged.headers.location, '/login?signed_out=1');
    assert.equal((await get(jar, '/')).statusCode, 303, 'signed out: the home page sends to sign-in');
  });
});

describe('the web console, served by the manager', () => {
  let h: ManagerHarness;
  let dir: string;
  before(async () => {
    // A build of our own (the checkout's may not exist): a document and one hashed asset.
    dir = mkdtempSync(join(tmpdir(), 'appproxy-console-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><script type="module" src="/console/assets/app-abc123.js"></script>',
    );
    writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'console.log("console")');
    writeFileSync(join(dir, '.built'), 'stamp');
    h = await ManagerHarness.create({ manager: { consoleDir: dir } });
    await h.api('POST', '/v1/users', { name: 'erin', password: 'erin-password' });
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('/ is the console for a signed-in browser (its own CSP, never cached), the plain page at /?plain=1', async () => {
    const login = await h.manager.app.inject({ method: 'GET', url: '/login' });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const csrfCookie = ([] as string[])
      .concat(login.headers['set-cookie'] as string[])
      .map((c) => c.split(';')[0]);
    const signed = await h.manager.app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie: csrfCookie.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: csrf, name: 'erin', password: 'erin-password' }).toString(),
    });
    assert.equal(signed.statusCode, 303, signed.body);
    const cookie = ([] as string[])
      .concat(signed.headers['set-cookie'] as string[])
      .map((c) => c.split(';')[0])
      .find((c) => c!.startsWith('appproxy_login='))!;
    const home = await h.manager.app.inject({ method: 'GET', url: '/', headers: { cookie } });
    assert.equal(home.statusCode, 200);
    assert.match(home.body, /\/console\/assets\/app-abc123\.js/);
    const csp = String(home.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(home.headers['cache-control'], 'no-store');
    const plain = await h.manager.app.inject({ method: 'GET', url: '/?plain=1', headers: { cookie } });
    assert.match(plain.body, /Signed in as/);
    // Signed out, / sends to the sign-in page as before.
    const anon = await h.manager.app.inject({ method: 'GET', url: '/' });
    assert.equal(anon.statusCode, 303);
    assert.match(String(anon.headers.location), /^\/login/);
  });

  test('assets: served with their type and cached for good; revalidation; anything else is 404', async () => {
    const a = await h.manager.app.inject({ method: 'GET', url: '/console/assets/app-abc123.js' });
    assert.equal(a.statusCode, 200);
    assert.match(String(a.headers['content-type']), /^text\/javascript/);
    assert.match(String(a.headers['cache-control']), /immutable/);
    assert.equal(a.body, 'console.log("console")');
    const again = await h.manager.app.inject({
      method: 'GET',
      url: '/console/assets/app-abc123.js',
      headers: { 'if-none-match': String(a.headers.etag) },
    });
    assert.equal(again.statusCode, 304);
    for (const url of [
      '/console/assets/nope.js',
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/.built',
      '/console/index.html',
    ]) {
      const r = await h.manager.app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 404, url);
    }
  });
});
