/** Pure pieces of the worker: redirect targets, cookies, host parsing, Accept. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AppCookies,
  readCookie,
  stripAppCookies,
  verifyRequest,
} from '../../../src/worker/access/app-cookie.ts';
import { RevocationSet } from '../../../src/worker/access/revocations.ts';
import { safeNext } from '../../../src/worker/access/setup.ts';
import { subdomainOf } from '../../../src/worker/frontend/wildcard.ts';
import { prefersJson } from '../../../src/worker/observe/error-pages.ts';

test('safeNext accepts same-origin paths only, after decoding too', () => {
  assert.equal(safeNext(null), '/');
  assert.equal(safeNext('/lab?x=1#y'), '/lab?x=1#y');
  assert.equal(safeNext('/caf\u00e9'), '/caf%C3%A9');
  for (const bad of [
    '',
    'x',
    '//evil.com',
    '/\\evil.com',
    'https://evil.com',
    '/%2F/evil.com',
    '/%252F%252Fevil',
    '/%5C',
    '/a\nb',
    '/%0d%0a',
    '/%E0%A4%A',
  ]) {
    assert.equal(safeNext(bad), null, bad);
  }
});

test('app cookies: signed, bound to circuit, user and expiry; cached after the first check', () => {
  const c = new AppCookies({ secret: Buffer.alloc(32, 1), ttlMs: 60_000, secure: false });
  const target = { id: 'c-1', ownerId: 'u', cookieName: c.nameFor('c-1') };
  assert.equal(target.cookieName, 'appproxy_c1');
  const set = c.issue('c-1', 'u');
  assert.match(set, /^appproxy_c1=[^;]+; Max-Age=60; Path=\/; HttpOnly; SameSite=Lax$/);
  const pair = set.split(';')[0]!;
  const req = (cookie: string) => ({ headers: { cookie } }) as never;
  const none = new RevocationSet();
  const ok = verifyRequest(c, none, target, req(pair));
  assert.equal(typeof ok, 'object', 'the verified claims');
  assert.equal(verifyRequest(c, none, { ...target, ownerId: 'v' }, req(pair)), 'AP_ERR_APP_COOKIE_INVALID');
  assert.equal(verifyRequest(c, none, target, req('other=1')), 'AP_ERR_APP_COOKIE_MISSING');
  const other = new AppCookies({ secret: Buffer.alloc(32, 2), ttlMs: 60_000, secure: false });
  assert.equal(verifyRequest(other, none, target, req(pair)), 'AP_ERR_APP_COOKIE_INVALID');
  const expired = c.issue('c-1', 'u', { now: Date.now() - 120_000 }).split(';')[0]!;
  assert.equal(verifyRequest(c, none, target, req(expired)), 'AP_ERR_APP_COOKIE_INVALID');
  const secure = new AppCookies({ secret: Buffer.alloc(32, 1), ttlMs: 60_000, secure: true });
  assert.match(secure.issue('c-1', 'u'), /^__Host-appproxy_c1=.*; Secure$/);
});

test("legacy permits: the user's, for legacy-flow circuits only; host-only and expiring", () => {
  const c = new AppCookies({ secret: Buffer.alloc(32, 1), ttlMs: 60_000, secure: false });
  const set = c.issuePermit('u');
  assert.match(set, /^appproxy_permit=[^;]+; Max-Age=60; Path=\/; HttpOnly; SameSite=Lax$/, 'host-only');
  const pair = set.split(';')[0]!;
  const req = (cookie: string) => ({ headers: { cookie } }) as never;
  const none = new RevocationSet();
  const legacyA = { id: 'a', ownerId: 'u', cookieName: c.permitName(), legacy: true };
  const legacyB = { id: 'b', ownerId: 'u', cookieName: c.permitName(), legacy: true };
  assert.equal(typeof verifyRequest(c, none, legacyA, req(pair)), 'object');
  assert.equal(
    typeof verifyRequest(c, none, legacyB, req(pair)),
    'object',
    'one permit, every legacy circuit of its user',
  );
  assert.equal(verifyRequest(c, none, { ...legacyA, ownerId: 'v' }, req(pair)), 'AP_ERR_APP_COOKIE_INVALID');
  // Under an integrated circuit's own name, a permit's payload opens nothing.
  const integrated = { id: 'a', ownerId: 'u', cookieName: c.nameFor('a') };
  const disguised = `${c.nameFor('a')}=${pair.slice(pair.indexOf('=') + 1)}`;
  assert.equal(verifyRequest(c, none, integrated, req(disguised)), 'AP_ERR_APP_COOKIE_INVALID');
  assert.equal(verifyRequest(c, none, integrated, req(pair)), 'AP_ERR_APP_COOKIE_MISSING');
  const expired = c.issuePermit('u', { now: Date.now() - 120_000 }).split(';')[0]!;
  assert.equal(verifyRequest(c, none, legacyA, req(expired)), 'AP_ERR_APP_COOKIE_INVALID');
  assert.match(stripAppCookies(`a=1; ${pair}`) ?? '', /^a=1$/, 'the app never sees the permit');
  const secure = new AppCookies({ secret: Buffer.alloc(32, 1), ttlMs: 60_000, secure: true });
  assert.match(secure.issuePermit('u'), /^__Host-appproxy_permit=.*; Secure$/);
});

test('cookie header helpers', () => {
  assert.equal(readCookie('a=1; appproxy_x=v; b=2', 'appproxy_x'), 'v');
  assert.equal(readCookie('__Host-appproxy_x=v', 'appproxy_x'), undefined);
  assert.equal(stripAppCookies('a=1; appproxy_x=v; __Host-appproxy_y=w;b=2'), 'a=1; b=2');
  assert.equal(stripAppCookies('appproxy_x=v'), undefined);
});

test('wildcard host parsing is case-insensitive and ignores the port', () => {
  const s = '.apps.localhost';
  assert.equal(subdomainOf('ABC123.Apps.Localhost:8080', s), 'abc123');
  assert.equal(subdomainOf('abc123.apps.localhost.', s), 'abc123');
  assert.equal(subdomainOf('x.abc123.apps.localhost', s), undefined);
  assert.equal(subdomainOf('abc123.apps.localhost.evil.com', s), undefined);
  assert.equal(subdomainOf('[::1]:80', s), undefined);
});

test('prefersJson', () => {
  assert.equal(prefersJson(undefined), false);
  assert.equal(prefersJson('text/html,application/xhtml+xml,*/*;q=0.8'), false);
  assert.equal(prefersJson('application/json'), true);
  assert.equal(prefersJson('application/json, text/html'), true);
  assert.equal(prefersJson('text/html;q=0.5, application/json'), true);
});
