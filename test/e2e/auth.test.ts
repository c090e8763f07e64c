/**
 * Setup tokens and app cookies on the embedded system: what a worker refuses, and why.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importJWK, type JWK, SignJWT } from 'jose';
import { SETUP_TOKEN_ISSUER } from '../../src/core/setup-token.ts';
import { CookieJar, followSetup, request } from '../support/http.ts';
import { runningSession, startTestSystem, type TestSystem } from '../support/system.ts';

const json = { accept: 'application/json' };

describe('app authentication', () => {
  let t: TestSystem;
  let a: any;
  let b: any;
  let s1: any;
  /** A new setup URL for circuit A (start-service re-uses the live circuit). */
  const freshA = async () =>
    (await t.api('POST', `/v1/sessions/${s1.id}/start-service`, { service: 'web', frontend: 'port' })).body;

  before(async () => {
    t = await startTestSystem();
    let s2: any;
    [s1, s2] = await Promise.all([runningSession(t, 'demo'), runningSession(t, 'demo')]);
    a = (await t.api('POST', `/v1/sessions/${s1.id}/start-service`, { service: 'web', frontend: 'port' }))
      .body;
    b = (await t.api('POST', `/v1/sessions/${s2.id}/start-service`, { service: 'web', frontend: 'port' }))
      .body;
    assert.ok(a.circuitId && b.circuitId && a.appUrl !== b.appUrl);
  });
  after(async () => {
    await t?.close();
  });

  test('no cookie: 401 with a JSON envelope, or a small HTML page for browsers', async () => {
    const r = await request(a.appUrl, { headers: json });
    assert.equal(r.status, 401);
    const body = JSON.parse(r.text);
    assert.equal(body.code, 'AP_ERR_APP_COOKIE_MISSING');
    assert.ok(body.requestId);
    const html = await request(a.appUrl, { headers: { accept: 'text/html' } });
    assert.equal(html.status, 401);
    assert.match(String(html.headers['content-type']), /text\/html/);
  });

  test('the app cookie is HttpOnly, SameSite=Lax, host-only and named per circuit', async () => {
    const setup = await request(a.setupUrl);
    assert.equal(setup.status, 302);
    const cookie = String(setup.headers['set-cookie']?.[0]);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    assert.doesNotMatch(cookie, /Domain=/i);
    assert.ok(cookie.startsWith(`appproxy_${a.circuitId.replaceAll('-', '')}=`), cookie);
  });

  test('a setup token is single use', async () => {
    const fresh = await freshA();
    const jar = new CookieJar();
    assert.equal((await followSetup(fresh.setupUrl, jar)).status, 302);
    const again = await request(fresh.setupUrl, { headers: json });
    assert.equal(again.status, 401);
    assert.equal(JSON.parse(again.text).code, 'AP_ERR_SETUP_TOKEN_USED');
  });

  test("a token for circuit A is refused on circuit B's origin", async () => {
    const token = new URL(a.setupUrl).searchParams.get('token')!;
    const r = await request(`${b.appUrl}_appproxy/setup?token=${encodeURIComponent(token)}&next=/`, {
      headers: json,
    });
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.text).code, 'AP_ERR_SETUP_TOKEN_INVALID');
  });

  test("circuit A's cookie is refused by circuit B, even under B's cookie name", async () => {
    const fresh = await freshA();
    const setup = await request(fresh.setupUrl);
    const [pair] = String(setup.headers['set-cookie']?.[0]).split(';');
    const value = pair!.slice(pair!.indexOf('=') + 1);
    const asIs = await request(b.appUrl, { headers: { ...json, cookie: pair! } });
    assert.equal(asIs.status, 401);
    const bName = `appproxy_${b.circuitId.replaceAll('-', '')}`;
    const renamed = await request(b.appUrl, { headers: { ...json, cookie: `${bName}=${value}` } });
    assert.equal(renamed.status, 401);
    assert.equal(JSON.parse(renamed.text).code, 'AP_ERR_APP_COOKIE_INVALID');
    const own = await request(fresh.appUrl, { headers: { cookie: pair! } });
    assert.equal(own.status, 200);
  });

  test('an expired setup token is refused', async () => {
    const jwk = JSON.parse(readFileSync(join(t.sys.dataDir, 'setup-token-key.jwk'), 'utf8')) as JWK;
    const key = await importJWK(jwk, 'EdDSA');
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: jwk.kid! })
      .setIssuer(SETUP_TOKEN_ISSUER)
      .setAudience(a.circuitId)
      .setSubject('admin')
      .setJti(crypto.randomUUID())
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(key);
    const r = await request(`${a.appUrl}_appproxy/setup?token=${token}&next=/`, { headers: json });
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.text).code, 'AP_ERR_SETUP_TOKEN_EXPIRED');
  });

  for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
    test(`next=${next} is refused (redirects stay on the app's origin)`, async () => {
      const fresh = await freshA();
      const u = new URL(fresh.setupUrl);
      u.searchParams.set('next', next);
      const r = await request(u.toString(), { headers: json });
      assert.equal(r.status, 400);
      assert.equal(JSON.parse(r.text).code, 'AP_ERR_REDIRECT_NOT_ALLOWED');
      assert.equal(r.headers['set-cookie'], undefined);
    });
  }

  test('the API refuses missing and wrong tokens with stable codes', async () => {
    const none = await fetch(`${t.url}/v1/sessions`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as any).code, 'AP_ERR_UNAUTHENTICATED');
    const wrong = await t.api('GET', '/v1/sessions', undefined, 'not-the-token');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.code, 'AP_ERR_TOKEN_INVALID');
  });
});
